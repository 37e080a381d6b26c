/**
 * The playground page: Monaco with codefill's inline completions, a language
 * picker and a latency panel. It is served by the codefill server itself, so
 * the API is the page's own origin (`?server=` points it elsewhere).
 */

import { installWorkers } from "./workers.js";
installWorkers(); // before Monaco starts any worker

import * as monaco from "monaco-editor/editor/editor.main";
import { CodefillClient, Completer, EditHistory, EventTracker, NextEditor, newSessionId, Status } from "../../common/src/index.js";
import { LatencyLog, formatMs } from "./latency.js";
import { MonacoNextEdits } from "./nextedit.js";
import { createProvider } from "./provider.js";
import { LANGUAGES } from "./samples.js";
import { playgroundSettings } from "./settings.js";

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const params = new URLSearchParams(location.search);
const server = params.get("server") ?? location.origin;

const client = new CodefillClient({ baseUrl: server, reportEvents: true });
const latency = new LatencyLog();
let lastOutcome = "–";

function render(status: Status, detail?: string): void {
  const el = $("status");
  el.textContent = status;
  el.dataset.status = status;
  el.title = detail ?? "";
  $("error").textContent = status === "error" ? detail ?? "" : "";
  $("first-text").textContent = formatMs(latency.last?.firstTextMs);
  $("total").textContent = formatMs(latency.last?.totalMs);
  $("median").textContent = `${formatMs(latency.medianTotalMs())} (${latency.count})`;
  $("outcome").textContent = lastOutcome;
}

let currentStatus: Status = "ready";
const session = newSessionId();
const completer = new Completer(
  () => client,
  () =>
    playgroundSettings({
      enabled: ($("enabled") as HTMLInputElement).checked,
      debounce: ($("debounce") as HTMLInputElement).value,
      deadline: ($("deadline") as HTMLInputElement).value,
      mode: ($("mode") as HTMLSelectElement).value,
    }),
  session,
  (s, detail) => render((currentStatus = s), detail),
);
const events = new EventTracker((event, id) => void client.sendEvent(event, id));

const picker = $("language") as HTMLSelectElement;
for (const l of LANGUAGES) picker.add(new Option(l.label, l.id));
const initial = LANGUAGES.find((l) => l.id === params.get("language")) ?? LANGUAGES[0];
picker.value = initial.id;

const modelFor = (id: string) => {
  const choice = LANGUAGES.find((l) => l.id === id) ?? LANGUAGES[0];
  const uri = monaco.Uri.file(choice.file);
  // Switching back to a language keeps what was typed in it.
  return monaco.editor.getModel(uri) ?? monaco.editor.createModel(choice.sample, choice.id, uri);
};

const editor = monaco.editor.create($("editor"), {
  model: modelFor(initial.id),
  theme: "vs-dark",
  fontSize: 14,
  automaticLayout: true,
  minimap: { enabled: false },
  inlineSuggest: { enabled: true },
  glyphMargin: true, // the next edit's arrow
  quickSuggestions: false, // the suggest widget would hide the ghost text
});

const nextEditor = new NextEditor(
  () => client,
  () => ({ enabled: ($("enabled") as HTMLInputElement).checked && ($("next-edits") as HTMLInputElement).checked, debounceMs: 300 }),
  new EditHistory(),
  session,
  (s, detail) => render((currentStatus = s), detail),
);
const nextEdits = new MonacoNextEdits(editor, nextEditor, {
  onShown(s, how) {
    $("next-edit").textContent = `${how === "inline" ? "ghost text" : "Tab to jump"}: line ${s.edit.range.start.line + 1} → ${JSON.stringify(s.edit.text)}`;
  },
  onOutcome(outcome) {
    $("next-edit").textContent = `${outcome}`;
  },
});

monaco.languages.registerInlineCompletionsProvider(
  { pattern: "**" },
  createProvider(completer, events, {
    onSuggestion(s) {
      latency.add(s.result);
      $("suggestion").textContent = JSON.stringify(s.text);
      render(currentStatus);
    },
    onOutcome(outcome) {
      lastOutcome = outcome;
      render(currentStatus);
    },
  }, nextEdits),
);

picker.addEventListener("change", () => {
  editor.setModel(modelFor(picker.value));
  const end = editor.getModel()!.getFullModelRange().getEndPosition();
  editor.setPosition(end);
  editor.focus();
});

$("explain").textContent = `model: asking ${server}/v1/models`;
client
  .models()
  .then((ids) => ($("explain").textContent = `model: ${ids[0]} at ${server}`))
  .catch((e) => render("error", e.message));
render("ready");

// For people poking at the page from the console, and for the end-to-end test.
Object.assign(window, { playground: { monaco, editor, client, latency, nextEdits } });

import { beforeEach, describe, expect, it } from "vitest";
import * as vscode from "vscode";
import { CodefillClient, Completer, CompleterSettings, EventTracker } from "../../../common/src/index.js";
import { MODELS, completionStream, fakeFetch, json, sse } from "../../../common/test/fake-fetch.js";
import { CodefillInlineProvider, signalFor } from "../../src/provider.js";
import { CancellationTokenSource, InlineCompletionTriggerKind, document, fake } from "../fake-vscode.js";

const settings: CompleterSettings = { enabled: true, languages: ["*"], triggerMode: "automatic", debounceMs: 40, maxTokens: 64, mode: "auto" };

function setup(opts: { hold?: Promise<void> } = {}) {
  const server = fakeFetch(async (req) => {
    if (req.url.endsWith("/v1/models")) return json(200, MODELS);
    await opts.hold;
    return sse(completionStream("cmpl-7", [" a + b"]), req.signal);
  });
  const client = new CodefillClient({ baseUrl: "http://h:1", fetch: server.fetch });
  const events: string[] = [];
  const tracker = new EventTracker((e, id) => events.push(`${e}:${id}`));
  const provider = new CodefillInlineProvider(new Completer(() => client, () => settings, "sess"), tracker);
  const completions = () => server.calls.filter((c) => c.url.endsWith("/v1/completions"));
  return { provider, events, completions };
}

const doc = document("def add(a, b):\n    return \n", "python", "/workspace/src/add.py");
const pos = new vscode.Position(1, 11);
const ctx = (triggerKind: InlineCompletionTriggerKind, selectedCompletionInfo?: unknown) =>
  ({ triggerKind, selectedCompletionInfo }) as unknown as vscode.InlineCompletionContext;

describe("CodefillInlineProvider", () => {
  beforeEach(() => fake.reset());

  it("returns the server's text as ghost text at the cursor, with an accept command carrying its id", async () => {
    const { provider, completions, events } = setup();
    const items = await provider.provideInlineCompletionItems(doc as any, pos, ctx(InlineCompletionTriggerKind.Automatic), new CancellationTokenSource().token as any);
    expect(items).toHaveLength(1);
    expect(items[0].insertText).toBe(" a + b");
    expect(items[0].range).toEqual(new vscode.Range(pos, pos));
    expect(items[0].command).toMatchObject({ command: "codefill.accepted", arguments: ["cmpl-7"] });
    expect(completions()[0].body).toMatchObject({
      prompt: "def add(a, b):\n    return ",
      suffix: "\n",
      language: "python",
      filepath: "src/add.py",
    });
    expect(events).toEqual(["shown:cmpl-7"]);
  });

  it("aborts the in-flight HTTP request when VS Code cancels the token", async () => {
    let release!: () => void;
    const { provider, completions } = setup({ hold: new Promise((r) => (release = r)) });
    const cts = new CancellationTokenSource();
    const pending = provider.provideInlineCompletionItems(doc as any, pos, ctx(InlineCompletionTriggerKind.Invoke), cts.token as any);
    await new Promise((r) => setTimeout(r, 10));
    const signal = completions()[0].signal!;
    expect(signal.aborted).toBe(false);
    cts.cancel();
    expect(signal.aborted).toBe(true);
    release();
    expect(await pending).toEqual([]);
  });

  it("debounces typing (Automatic = 1) but not an explicit request (Invoke = 0)", async () => {
    const { provider, completions } = setup();
    const cts = new CancellationTokenSource();
    const typing = provider.provideInlineCompletionItems(doc as any, pos, ctx(InlineCompletionTriggerKind.Automatic), cts.token as any);
    await new Promise((r) => setTimeout(r, 5));
    cts.cancel(); // the next keystroke, within the debounce window
    expect(await typing).toEqual([]);
    expect(completions()).toHaveLength(0);

    const explicit = provider.provideInlineCompletionItems(doc as any, pos, ctx(InlineCompletionTriggerKind.Invoke), new CancellationTokenSource().token as any);
    await new Promise((r) => setTimeout(r, 5));
    expect(completions()).toHaveLength(1); // sent without waiting 40 ms
    await explicit;
  });

  it("stays out of the way while the suggest widget has a selection", async () => {
    const { provider, completions } = setup();
    const items = await provider.provideInlineCompletionItems(doc as any, pos, ctx(InlineCompletionTriggerKind.Automatic, { text: "x" }), new CancellationTokenSource().token as any);
    expect(items).toEqual([]);
    expect(completions()).toHaveLength(0);
  });
});

describe("signalFor", () => {
  it("is aborted at once for an already cancelled token, and stops listening when disposed", () => {
    const cancelled = new CancellationTokenSource();
    cancelled.cancel();
    expect(signalFor(cancelled.token as any).signal.aborted).toBe(true);

    const live = new CancellationTokenSource();
    const s = signalFor(live.token as any);
    s.dispose();
    live.cancel();
    expect(s.signal.aborted).toBe(false);
  });
});

import { describe, expect, it } from "vitest";
import { CodefillClient, Completer, EditHistory, EventTracker, NextEditor } from "../../../common/src/index.js";
import { MODELS, fakeFetch, json } from "../../../common/test/fake-fetch.js";
import { MonacoNextEdits, NEXT_EDIT_CONTEXT, toMonacoRange } from "../../src/nextedit.js";
import { createProvider } from "../../src/provider.js";

const FILE = "def area(width, h):\n    return w * h\n";
type Edit = { range: { start: { line: number; character: number }; end: { line: number; character: number } }; text: string };
const edit = (sl: number, sc: number, el: number, ec: number, text: string): Edit => ({ range: { start: { line: sl, character: sc }, end: { line: el, character: ec } }, text });

/** Monaco's editor and model, as far as the next edits use them (1-based lines and columns). */
function fakeEditor(initial: string) {
  let text = initial;
  let version = 1;
  const changed: (() => void)[] = [];
  const model = {
    uri: { path: "/geo.py" },
    getValue: () => text,
    getVersionId: () => version,
    getLanguageId: () => "python",
    getLineMaxColumn: (n: number) => text.split("\n")[n - 1].length + 1,
  };
  const offset = (line: number, column: number) => text.split("\n").slice(0, line - 1).reduce((n, l) => n + l.length + 1, 0) + column - 1;
  const state = {
    position: { lineNumber: 1, column: 15 },
    decorations: [] as any[],
    context: new Map<string, boolean>(),
    commands: [] as { key: number; run: () => void; when: string }[],
    triggered: [] as string[],
    revealed: 0,
    widgets: [] as any[],
  };
  const editor = {
    getModel: () => model,
    getPosition: () => state.position,
    setPosition: (p: any) => (state.position = p),
    createDecorationsCollection: () => ({ set: (d: any[]) => (state.decorations = d), clear: () => (state.decorations = []) }),
    createContextKey: (key: string, value: boolean) => (state.context.set(key, value), { set: (v: boolean) => state.context.set(key, v) }),
    addCommand: (key: number, run: () => void, when: string) => state.commands.push({ key, run, when }),
    executeEdits: (_source: string, edits: { range: any; text: string }[]) => {
      for (const e of edits) text = text.slice(0, offset(e.range.startLineNumber, e.range.startColumn)) + e.text + text.slice(offset(e.range.endLineNumber, e.range.endColumn));
      version++;
      changed.forEach((l) => l());
      return true;
    },
    revealPositionInCenterIfOutsideViewport: () => state.revealed++,
    addContentWidget: (w: any) => state.widgets.push(w),
    removeContentWidget: (w: any) => state.widgets.splice(state.widgets.indexOf(w), 1),
    trigger: (_source: string, id: string) => state.triggered.push(id),
    onDidChangeModel: () => ({ dispose() {} }),
    onDidChangeModelContent: (l: () => void) => (changed.push(l), { dispose() {} }),
  };
  /** The user typed: the text is now `next`. */
  const type = (next: string) => {
    text = next;
    version++;
    changed.forEach((l) => l());
  };
  return { editor, model, state, type, text: () => text };
}

function setup(edits: Edit[]) {
  const server = fakeFetch((req) =>
    req.url.endsWith("/v1/models") ? json(200, MODELS) : json(200, { id: "nedit-m", model: "tiny-model", edits, no_edit: !edits.length }),
  );
  const client = new CodefillClient({ baseUrl: "http://h:1", fetch: server.fetch });
  const fake = fakeEditor(FILE.replace("width", "w"));
  const outcomes: string[] = [];
  const nextEdits = new MonacoNextEdits(fake.editor as any, new NextEditor(() => client, () => ({ enabled: true, debounceMs: 0 }), new EditHistory(), "s"), {
    onOutcome: (o) => outcomes.push(o),
  });
  const requests = () => server.calls.filter((c) => c.url.endsWith("/v1/next_edit"));
  return { ...fake, nextEdits, outcomes, requests, client };
}

const run = (state: { commands: { key: number; run: () => void }[] }, key: number) => state.commands.find((c) => c.key === key)!.run();
const TAB = 2;
const ESCAPE = 9;

describe("next edits in the playground", () => {
  it("a change asks with the history; an edit elsewhere is drawn with a margin arrow and Tab applies it", async () => {
    const { state, type, nextEdits, requests, text, outcomes } = setup([edit(1, 11, 1, 12, "width")]);
    type(FILE);
    await nextEdits.changed(); // the same change the listener saw: awaited here
    expect(requests().at(-1)!.body.history.at(-1).diff).toContain("+def area(width, h):");
    expect(state.context.get(NEXT_EDIT_CONTEXT)).toBe(true);
    expect(state.decorations.some((d) => d.options.glyphMarginClassName === "codefill-next-edit-arrow")).toBe(true);
    expect(state.widgets.map((w) => [w.text, w.getPosition().position])).toEqual([["→ width", { lineNumber: 2, column: 17 }]]); // at the end of line 2
    expect(state.decorations.find((d) => d.options.inlineClassName === "codefill-next-edit-replaced").range).toEqual(toMonacoRange(edit(1, 11, 1, 12, "").range));
    // Tab and Esc are ours only while a next edit is shown and no ghost text is
    expect(state.commands.map((c) => [c.key, c.when])).toEqual([
      [TAB, `${NEXT_EDIT_CONTEXT} && !inlineSuggestionVisible`],
      [ESCAPE, `${NEXT_EDIT_CONTEXT} && !inlineSuggestionVisible`],
    ]);
    run(state, TAB);
    expect(text()).toBe("def area(width, h):\n    return width * h\n");
    expect(state.position).toEqual({ lineNumber: 2, column: 17 });
    expect(state.revealed).toBe(1);
    expect(state.context.get(NEXT_EDIT_CONTEXT)).toBe(false);
    expect(state.decorations).toEqual([]);
    expect(state.widgets).toEqual([]);
    expect(outcomes).toEqual(["accepted"]);
  });

  it("Esc dismisses and leaves the text alone", async () => {
    const { state, type, nextEdits, text, outcomes } = setup([edit(1, 11, 1, 12, "width")]);
    type(FILE);
    await nextEdits.changed();
    run(state, ESCAPE);
    expect(state.decorations).toEqual([]);
    expect(state.context.get(NEXT_EDIT_CONTEXT)).toBe(false);
    expect(text()).toBe(FILE);
    expect(nextEdits.accept()).toBe(false);
    expect(outcomes).toEqual(["dismissed"]);
  });

  it("an edit after the cursor on its line goes to the inline provider as ghost text with a range", async () => {
    const { state, type, nextEdits, model, requests } = setup([edit(0, 17, 0, 17, "eight")]);
    type(FILE);
    await nextEdits.changed();
    expect(state.triggered).toContain("editor.action.inlineSuggest.trigger");
    expect(state.decorations).toEqual([]);
    const provider = createProvider(new Completer(() => { throw new Error("no completion wanted"); }, () => ({ enabled: true, languages: ["*"], triggerMode: "automatic", debounceMs: 0, maxTokens: 8, mode: "auto" }), "s"), new EventTracker(() => undefined), {}, nextEdits);
    const token = { isCancellationRequested: false, onCancellationRequested: () => ({ dispose() {} }) };
    const list = await provider.provideInlineCompletions(model as any, { lineNumber: 1, column: 15 } as any, { triggerKind: 1 } as any, token as any);
    expect(list.items).toEqual([{ insertText: ", height", range: { startLineNumber: 1, startColumn: 15, endLineNumber: 1, endColumn: 18 }, codefillId: "" }]);
    expect(requests()).toHaveLength(1);
  });
});

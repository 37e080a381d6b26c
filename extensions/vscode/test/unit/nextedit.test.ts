import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import * as vscode from "vscode";
import { MODELS, completionStream, fakeFetch, json, sse } from "../../../common/test/fake-fetch.js";
import pkg from "../../package.json";
import { activate } from "../../src/extension.js";
import { CancellationTokenSource, InlineCompletionTriggerKind, Position, document, editor, extensionContext, fake } from "../fake-vscode.js";

const FILE = "def area(width, h):\n    return w * h\n\nprint(area(2, 3))\n";
type Edit = { range: { start: { line: number; character: number }; end: { line: number; character: number } }; text: string };
const edit = (sl: number, sc: number, el: number, ec: number, text: string): Edit => ({ range: { start: { line: sl, character: sc }, end: { line: el, character: ec } }, text });

function server(edits: Edit[] | "missing") {
  return fakeFetch((req) => {
    if (req.url.endsWith("/v1/models")) return json(200, MODELS);
    if (req.url.endsWith("/v1/completions")) return sse(completionStream("cmpl-1", ["x"]), req.signal);
    if (req.url.endsWith("/v1/next_edit") && edits !== "missing") return json(200, { id: "nedit-1", model: "tiny-model", edits, no_edit: !edits.length, usage: {} });
    return json(404, { error: { message: "Not Found", type: "not_found_error", code: null } });
  });
}

async function until(cond: () => boolean, what: string) {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(cond(), what).toBe(true);
}

/** The extension active on geo.py, with `w` just renamed to `width` on line 0 and the cursor after it. */
function typedRename(edits: Edit[] | "missing") {
  const srv = server(edits);
  vi.stubGlobal("fetch", srv.fetch);
  fake.config.set("codefill.nextEditDelayMs", 0);
  const doc = document(FILE.replace("width", "w"), "python", "/workspace/geo.py");
  fake.documents.push(doc);
  const a = activate(extensionContext() as any);
  const ed = editor(doc, new Position(0, 14));
  doc.setText(FILE);
  const nextEdits = () => srv.calls.filter((c) => c.url.endsWith("/v1/next_edit"));
  return { a, doc, ed, srv, nextEdits };
}

describe("next edits in VS Code", () => {
  beforeEach(() => fake.reset());
  afterEach(() => vi.unstubAllGlobals());

  it("asks after a change with the file, cursor, session and the change as a diff", async () => {
    const { nextEdits } = typedRename([]);
    await until(() => nextEdits().length === 1, "a next-edit request");
    const [call] = nextEdits();
    expect(call.body).toMatchObject({ path: "geo.py", language: "python", text: FILE, cursor: { line: 0, character: 14 } });
    expect(call.body.history).toHaveLength(1);
    expect(call.body.history[0].diff).toContain("-def area(w, h):\n+def area(width, h):");
    expect(call.headers["X-Session-Id"]).toBe(call.body.user);
  });

  it("an edit elsewhere is drawn with a gutter arrow and its new text; Tab's command jumps there and applies it", async () => {
    const { a, doc, ed } = typedRename([edit(1, 11, 1, 12, "width")]);
    await until(() => fake.context.get("codefill.nextEditVisible") === true, "the context key");
    const drawn = ed.drawn();
    expect(drawn).toHaveLength(2); // the replaced "w" struck through, the proposal after it
    const proposal = drawn.find((d) => d.renderOptions);
    expect(proposal.renderOptions.after.contentText).toBe(" width ");
    const types = fake.decorationTypes.map((t) => t.options);
    expect(types.some((o) => String(o.gutterIconPath).startsWith("data:image/svg+xml"))).toBe(true);
    expect(types.some((o) => o.textDecoration === "line-through")).toBe(true);

    await vscode.commands.executeCommand("codefill.acceptNextEdit");
    expect(doc.getText()).toBe(FILE.replace("return w * h", "return width * h"));
    expect(ed.selection.active).toEqual(new Position(1, 16)); // the cursor went there, after the new text
    expect(ed.revealed).toHaveLength(1);
    expect(fake.context.get("codefill.nextEditVisible")).toBe(false);
    expect(ed.drawn()).toEqual([]);
    a.nextEdits.dispose();
  });

  it("Esc's command dismisses it and leaves the text alone; a change drops it too", async () => {
    const { doc, ed } = typedRename([edit(3, 11, 3, 11, "width=")]);
    await until(() => fake.context.get("codefill.nextEditVisible") === true, "the context key");
    await vscode.commands.executeCommand("codefill.dismissNextEdit");
    expect(fake.context.get("codefill.nextEditVisible")).toBe(false);
    expect(ed.drawn()).toEqual([]);
    expect(doc.getText()).toBe(FILE);
    expect(await vscode.commands.executeCommand("codefill.acceptNextEdit")).toBe(false);
    expect(doc.getText()).toBe(FILE);

    await until(() => true, "");
    doc.setText(FILE + "\n");
    await until(() => fake.context.get("codefill.nextEditVisible") === true, "shown again after the change");
    doc.setText(FILE + "\n\n"); // typing on drops the old suggestion at once
    expect(fake.context.get("codefill.nextEditVisible")).toBe(false);
  });

  it("an edit after the cursor on its line is an inline completion item with a range, before any completion", async () => {
    const { ed, srv } = typedRename([edit(0, 17, 0, 17, "eight")]); // "def area(width, h" -> "def area(width, height"
    await until(() => fake.executed.some((e) => e.command === "editor.action.inlineSuggest.trigger"), "the inline trigger");
    expect(fake.context.get("codefill.nextEditVisible")).toBeUndefined();
    const provider = fake.providers[0].provider;
    const items = await provider.provideInlineCompletionItems(ed.document, new Position(0, 14), { triggerKind: InlineCompletionTriggerKind.Automatic }, new CancellationTokenSource().token);
    expect(items).toHaveLength(1);
    expect(items[0].insertText).toBe(", height"); // the text from the cursor to the edit, then the edit
    expect(items[0].range).toEqual(new vscode.Range(new Position(0, 14), new Position(0, 17)));
    expect(srv.calls.filter((c) => c.url.endsWith("/v1/completions"))).toHaveLength(0);
  });

  it("a server without /v1/next_edit is asked once, and completions go on", async () => {
    const { doc, nextEdits, ed } = typedRename("missing");
    await until(() => nextEdits().length === 1, "one request");
    doc.setText(FILE + "x");
    await new Promise((r) => setTimeout(r, 30));
    expect(nextEdits()).toHaveLength(1);
    expect(ed.drawn()).toEqual([]);
    const items = await fake.providers[0].provider.provideInlineCompletionItems(ed.document, new Position(3, 0), { triggerKind: InlineCompletionTriggerKind.Invoke }, new CancellationTokenSource().token);
    expect(items[0].insertText).toBe("x");
  });

  it("codefill.nextEditServerUrl sends next edits to another server; completions stay on codefill.serverUrl", async () => {
    fake.config.set("codefill.serverUrl", "http://completions:1");
    fake.config.set("codefill.nextEditServerUrl", "http://next-edits:2/v1");
    const { nextEdits, ed, srv } = typedRename([]);
    await until(() => nextEdits().length === 1, "a next-edit request");
    expect(nextEdits()[0].url).toBe("http://next-edits:2/v1/next_edit");
    await fake.providers[0].provider.provideInlineCompletionItems(ed.document, new Position(3, 0), { triggerKind: InlineCompletionTriggerKind.Invoke }, new CancellationTokenSource().token);
    expect(srv.calls.filter((c) => c.url.endsWith("/v1/completions")).map((c) => c.url)).toEqual(["http://completions:1/v1/completions"]);
  });

  it("the manifest binds Tab and Esc only while a next edit is shown", () => {
    const bind = (cmd: string) => pkg.contributes.keybindings.find((k) => k.command === cmd)!;
    expect(bind("codefill.acceptNextEdit")).toMatchObject({ key: "tab" });
    expect(bind("codefill.acceptNextEdit").when).toContain("codefill.nextEditVisible");
    expect(bind("codefill.acceptNextEdit").when).toContain("!inlineSuggestionVisible");
    expect(bind("codefill.dismissNextEdit")).toMatchObject({ key: "escape" });
    expect(bind("codefill.dismissNextEdit").when).toContain("codefill.nextEditVisible");
    expect(bind("codefill.dismissNextEdit").when).toContain("!inlineSuggestionVisible"); // Esc hides ghost text first
  });
});

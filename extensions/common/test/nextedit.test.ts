import { describe, expect, it } from "vitest";
import { CodefillClient } from "../src/client.js";
import { EditHistory } from "../src/history.js";
import { NextEditor, TextEdit, applyEdits, endOfEdit, inlineEditAt, offsetAt, previewOf, usefulEdits } from "../src/nextedit.js";
import { MODELS, fakeFetch, json } from "./fake-fetch.js";

const edit = (sl: number, sc: number, el: number, ec: number, text: string): TextEdit => ({
  range: { start: { line: sl, character: sc }, end: { line: el, character: ec } },
  text,
});

const FILE = "def area(width, h):\n    return w * h\n\nprint(area(2, 3))\n";

function server(answer: (body: any) => Response) {
  return fakeFetch((req) => {
    if (req.url.endsWith("/v1/models")) return json(200, MODELS);
    if (req.url.endsWith("/v1/next_edit")) return answer(req.body);
    return json(404, { error: { message: "No such endpoint", type: "not_found_error", code: null } });
  });
}

function editor(fetch: typeof globalThis.fetch, history = new EditHistory()) {
  const client = new CodefillClient({ baseUrl: "http://h:1", fetch, apiKey: () => "sk-1" });
  const statuses: string[] = [];
  const ne = new NextEditor(() => client, () => ({ enabled: true, debounceMs: 0 }), history, "sess-9", (s) => statuses.push(s));
  return { ne, statuses };
}

describe("CodefillClient.nextEdit", () => {
  it("sends the file, cursor, history and session (body and X-Session-Id) and reads the edits", async () => {
    const { fetch, calls } = server(() => json(200, { id: "nedit-1", model: "tiny-model", edits: [edit(1, 11, 1, 12, "width")], no_edit: false, usage: {} }));
    const client = new CodefillClient({ baseUrl: "http://h:1", fetch, apiKey: () => "sk-1" });
    const history = [{ path: "geo.py", diff: "@@ -1 +1 @@\n-def area(w, h):\n+def area(width, h):\n" }];
    const result = await client.nextEdit({ path: "geo.py", language: "python", text: FILE, cursor: { line: 0, character: 14 }, history, user: "sess-9" }, new AbortController().signal);
    expect(result).toEqual({ id: "nedit-1", model: "tiny-model", edits: [edit(1, 11, 1, 12, "width")], noEdit: false });
    const post = calls.find((c) => c.url.endsWith("/v1/next_edit"))!;
    expect(post.headers["X-Session-Id"]).toBe("sess-9");
    expect(post.headers.Authorization).toBe("Bearer sk-1");
    expect(post.body).toEqual({ model: "tiny-model", path: "geo.py", language: "python", text: FILE, cursor: { line: 0, character: 14 }, history, user: "sess-9" });
  });

  it("an explicit no_edit is no edits; an OpenAI error becomes a CodefillError with its code", async () => {
    const quiet = server(() => json(200, { id: "nedit-2", model: "m", edits: [], no_edit: true }));
    const ask = { path: "a.py", text: "x\n", cursor: { line: 0, character: 0 }, history: [], user: "s" };
    expect(await new CodefillClient({ baseUrl: "http://h:1", fetch: quiet.fetch }).nextEdit(ask, new AbortController().signal)).toMatchObject({ noEdit: true, edits: [] });
    const bad = server(() => json(400, { error: { message: "cursor is past the end of the text", type: "invalid_request_error", param: "cursor", code: "cursor_out_of_range" } }));
    await expect(new CodefillClient({ baseUrl: "http://h:1", fetch: bad.fetch }).nextEdit(ask, new AbortController().signal)).rejects.toMatchObject({ status: 400, code: "cursor_out_of_range", message: "cursor is past the end of the text" });
  });
});

describe("edits on a text", () => {
  it("applies edits by line and UTF-16 character, CRLF and surrogate pairs included", () => {
    expect(applyEdits(FILE, [edit(1, 11, 1, 12, "width"), edit(0, 0, 0, 0, "# geometry\n")])).toBe(
      "# geometry\ndef area(width, h):\n    return width * h\n\nprint(area(2, 3))\n",
    );
    expect(applyEdits("a😀b\r\nc\r\n", [edit(0, 3, 1, 0, "B\r\n")])).toBe("a😀B\r\nc\r\n");
    expect(offsetAt("ab\ncd", { line: 5, character: 9 })).toBe(5); // clamped to the end
  });

  it("puts the cursor at the end of the new text", () => {
    expect(endOfEdit(edit(3, 4, 3, 9, "total"))).toEqual({ line: 3, character: 9 });
    expect(endOfEdit(edit(3, 4, 3, 4, "a\nbc"))).toEqual({ line: 4, character: 2 });
  });

  it("ghost text only where the edit inserts at or after the cursor on its line", () => {
    const text = "print(area(2))\n";
    // area(2) -> area(2, 3) with the cursor after "2": an insertion after the cursor
    expect(inlineEditAt(text, edit(0, 12, 0, 12, ", 3"), { line: 0, character: 12 })).toEqual({
      range: { start: { line: 0, character: 12 }, end: { line: 0, character: 12 } },
      insertText: ", 3",
    });
    // further along the line: the range starts at the cursor and carries the text between
    expect(inlineEditAt(text, edit(0, 13, 0, 14, "))"), { line: 0, character: 6 })).toEqual({
      range: { start: { line: 0, character: 6 }, end: { line: 0, character: 14 } },
      insertText: "area(2)))",
    });
    expect(inlineEditAt(text, edit(0, 0, 0, 5, "show"), { line: 0, character: 0 })).toBeNull(); // deletes "print"
    expect(inlineEditAt(text, edit(0, 0, 0, 0, "x"), { line: 0, character: 3 })).toBeNull(); // before the cursor
    expect(inlineEditAt(text, edit(1, 0, 1, 0, "x"), { line: 0, character: 3 })).toBeNull(); // another line
    expect(inlineEditAt(text, edit(0, 14, 0, 14, "\nmore"), { line: 0, character: 14 })).toBeNull(); // a line break
  });

  it("previews the new text on one line", () => {
    expect(previewOf("width")).toBe("width");
    expect(previewOf("a\nb")).toBe("a …");
    expect(previewOf("\nb")).toBe("⏎ …");
    expect(previewOf("")).toBe("");
  });

  it("drops edits that restate the text and puts the nearest first", () => {
    const edits = [edit(0, 4, 0, 8, "area"), edit(9, 0, 9, 0, "far"), edit(3, 0, 3, 0, "near")];
    expect(usefulEdits(FILE, edits, { line: 1, character: 0 }).map((e) => e.text)).toEqual(["near", "far"]);
  });
});

describe("NextEditor", () => {
  it("sends the history, whose newest diff leads to the text it sends, and returns the nearest edit", async () => {
    const { fetch, calls } = server(() => json(200, { id: "nedit-3", model: "m", edits: [edit(1, 11, 1, 12, "width")], no_edit: false }));
    const history = new EditHistory();
    history.open("geo.py", FILE.replace("width", "w"));
    const { ne } = editor(fetch, history);
    const s = await ne.suggest({ path: "geo.py", language: "python", text: FILE, cursor: { line: 0, character: 14 } }, new AbortController().signal);
    expect(s).toMatchObject({ id: "nedit-3", edit: edit(1, 11, 1, 12, "width"), inline: null, text: FILE });
    const sent = calls.find((c) => c.url.endsWith("/v1/next_edit"))!.body;
    expect(sent.history).toHaveLength(1);
    expect(sent.history[0].diff).toContain("+def area(width, h):");
  });

  it("reads the text and cursor after the debounce when asked with a function (editors move the cursor after the change)", async () => {
    const { fetch, calls } = server(() => json(200, { id: "n", model: "m", edits: [], no_edit: true }));
    const client = new CodefillClient({ baseUrl: "http://h:1", fetch });
    const ne = new NextEditor(() => client, () => ({ enabled: true, debounceMs: 20 }), new EditHistory(), "s");
    let cursor = { line: 0, character: 3 };
    const pending = ne.suggest(() => ({ path: "a.py", language: "python", text: "abcd\n", cursor }), new AbortController().signal);
    cursor = { line: 0, character: 4 }; // the editor moved the cursor past what was typed
    await pending;
    expect(calls.find((c) => c.url.endsWith("/v1/next_edit"))!.body.cursor).toEqual({ line: 0, character: 4 });
  });

  it("a history the server refuses (400 naming history) is dropped and the question asked again without it", async () => {
    const bodies: any[] = [];
    const { fetch } = server((body) => {
      bodies.push(body);
      return body.history.length
        ? json(400, { error: { message: "history[0].diff does not apply", type: "invalid_request_error", param: "history[0].diff", code: "diff_does_not_apply" } })
        : json(200, { id: "n", model: "m", edits: [edit(0, 0, 0, 1, "X")], no_edit: false });
    });
    const history = new EditHistory();
    history.open("a.py", "x\n");
    const { ne, statuses } = editor(fetch, history);
    const s = await ne.suggest({ path: "a.py", language: "python", text: "xy\n", cursor: { line: 0, character: 2 } }, new AbortController().signal);
    expect(s?.edit.text).toBe("X");
    expect(bodies.map((b) => b.history.length)).toEqual([1, 0]);
    expect(history.events()).toEqual([]);
    expect(statuses).toEqual(["ready"]);
  });

  it("sends a CRLF document with \\n line breaks (same lines and characters)", async () => {
    const { fetch, calls } = server(() => json(200, { id: "n", model: "m", edits: [edit(1, 4, 1, 5, "3")], no_edit: false }));
    const history = new EditHistory();
    history.open("w.py", "a = 1\r\nb = 2\r\n");
    const { ne } = editor(fetch, history);
    const s = await ne.suggest({ path: "w.py", language: "python", text: "a = 2\r\nb = 2\r\n", cursor: { line: 0, character: 5 } }, new AbortController().signal);
    const body = calls.find((c) => c.url.endsWith("/v1/next_edit"))!.body;
    expect(body.text).toBe("a = 2\nb = 2\n");
    expect(body.history[0].diff).toContain("-a = 1\n+a = 2\n");
    expect(s?.edit).toEqual(edit(1, 4, 1, 5, "3"));
  });

  it("only in the languages asked for", async () => {
    const { fetch, calls } = server(() => json(200, { id: "n", model: "m", edits: [], no_edit: true }));
    const client = new CodefillClient({ baseUrl: "http://h:1", fetch });
    const ne = new NextEditor(() => client, () => ({ enabled: true, debounceMs: 0, languages: ["go"] }), new EditHistory(), "s");
    expect(await ne.suggest({ path: "a.py", language: "python", text: "x\n", cursor: { line: 0, character: 0 } }, new AbortController().signal)).toBeNull();
    expect(calls).toHaveLength(0);
  });

  it("nothing for no_edit; a server without the endpoint is not asked again; an aborted ask sends nothing", async () => {
    const quiet = server(() => json(200, { id: "n", model: "m", edits: [], no_edit: true }));
    const ask = { path: "a.py", language: "python", text: "x\n", cursor: { line: 0, character: 1 } };
    expect(await editor(quiet.fetch).ne.suggest(ask, new AbortController().signal)).toBeNull();

    const old = fakeFetch((req) => (req.url.endsWith("/v1/models") ? json(200, MODELS) : json(404, { error: { message: "Not Found" } })));
    const { ne, statuses } = editor(old.fetch);
    expect(await ne.suggest(ask, new AbortController().signal)).toBeNull();
    expect(ne.unsupported).toBe(true);
    expect(await ne.suggest(ask, new AbortController().signal)).toBeNull();
    expect(old.calls.filter((c) => c.url.endsWith("/v1/next_edit"))).toHaveLength(1);
    expect(statuses).not.toContain("error");

    const ac = new AbortController();
    ac.abort();
    const fresh = server(() => json(200, {}));
    expect(await editor(fresh.fetch).ne.suggest(ask, ac.signal)).toBeNull();
    expect(fresh.calls).toHaveLength(0);
  });
});

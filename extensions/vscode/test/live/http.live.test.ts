/**
 * The HTTP layer against a real codefill server with the real model.
 * CODEFILL_URL names it (tests/extensions/test_vscode.py passes the live
 * server's); without it these tests fail rather than pass vacuously.
 */
import { beforeEach, describe, expect, it } from "vitest";
import * as vscode from "vscode";
import { CodefillClient, CodefillError, Completer, EditHistory, EventTracker, offsetAt } from "../../../common/src/index.js";
import { CodefillInlineProvider } from "../../src/provider.js";
import { CancellationTokenSource, InlineCompletionTriggerKind, document, fake } from "../fake-vscode.js";

const url = process.env.CODEFILL_URL;
if (!url) throw new Error("CODEFILL_URL is not set: run these through pytest (tests/extensions) or point them at a server");
const BASE = url;

const params = {
  // (a fresh function body is a bad probe: SmolLM2 answers it with a copy of the `def` line, which is dropped)
  prompt: "import os\n\nfiles = os.",
  suffix: "\n",
  language: "python",
  filepath: "fib.py",
  user: "vitest-live",
  maxTokens: 24,
  mode: "auto" as const,
};

async function cancelledCount(): Promise<number> {
  const text = await (await fetch(BASE + "/metrics")).text();
  const line = text.split("\n").find((l) => l.startsWith("codefill_completions_cancelled_total"));
  return line ? Number(line.split(" ")[1]) : 0;
}

describe("CodefillClient against a live server", () => {
  beforeEach(() => fake.reset());

  it("lists the server's model", async () => {
    const ids = await new CodefillClient({ baseUrl: BASE }).models();
    expect(ids.length).toBeGreaterThan(0);
  });

  it("streams a completion with an id, text and a finish reason", async () => {
    const pieces: string[] = [];
    const r = await new CodefillClient({ baseUrl: BASE + "/v1" }).complete(params, new AbortController().signal, (t) => pieces.push(t));
    expect(r.id).toMatch(/^cmpl-/);
    expect(r.text.length).toBeGreaterThan(0);
    expect(pieces.at(-1)).toBe(r.text);
    expect(r.finishReason).toMatch(/^(stop|length)$/);
    expect(r.firstTextMs!).toBeLessThanOrEqual(r.totalMs);
  });

  it("aborting mid-stream closes the request and the server stops generating", async () => {
    const client = new CodefillClient({ baseUrl: BASE });
    const before = await cancelledCount();
    const ac = new AbortController();
    const started = Date.now();
    const err = await client
      .complete(
        { ...params, prompt: "1, 2, 3, 4, 5, 6, 7, 8, 9, 10,", suffix: "", mode: "raw", maxTokens: 3000 },
        ac.signal,
        () => ac.abort(), // at the first text
      )
      .catch((e) => e);
    expect(err?.name).toBe("AbortError");
    expect(Date.now() - started).toBeLessThan(10_000); // 3000 tokens would take far longer
    let after = before;
    for (let i = 0; i < 50 && after === before; i++) {
      await new Promise((r) => setTimeout(r, 100));
      after = await cancelledCount();
    }
    expect(after).toBeGreaterThan(before);
  });

  it("gives the server's own message for an error", async () => {
    const err = await new CodefillClient({ baseUrl: BASE })
      .complete({ ...params, model: "no-such-model" }, new AbortController().signal)
      .catch((e) => e);
    expect(err).toBeInstanceOf(CodefillError);
    expect(err.status).toBe(404);
    expect(err.code).toBe("model_not_found");
    expect(err.message).toContain("no-such-model");
  });

  it("reports an event for a real completion; an unknown id fails that event only", async () => {
    const client = new CodefillClient({ baseUrl: BASE, reportEvents: true });
    const r = await client.complete({ ...params, prompt: "import os\n\nfiles = os.", mode: "single_line" }, new AbortController().signal);
    expect(await client.sendEvent("shown", "cmpl-never-issued")).toBe("failed");
    expect(await client.sendEvent("shown", r.id)).toBe("sent");
  });

  it("the VS Code provider turns a real completion into ghost text", async () => {
    const client = new CodefillClient({ baseUrl: BASE });
    const statuses: string[] = [];
    const completer = new Completer(
      () => client,
      // The longest deadline the server takes: sent, and no drop on a slow machine.
      () => ({ enabled: true, languages: ["*"], triggerMode: "automatic", debounceMs: 10, deadlineMs: 60000, maxTokens: 24, mode: "multi_line" }),
      "vitest-live",
      (s) => statuses.push(s),
    );
    const provider = new CodefillInlineProvider(completer, new EventTracker(() => undefined));
    const doc = document("import os\n\ndef read_file(path):\n    ", "python");
    const items = await provider.provideInlineCompletionItems(
      doc as any,
      new vscode.Position(3, 4),
      { triggerKind: InlineCompletionTriggerKind.Automatic } as any,
      new CancellationTokenSource().token as any,
    );
    expect(items).toHaveLength(1);
    expect(String(items[0].insertText).length).toBeGreaterThan(0);
    expect(statuses).toEqual(["thinking", "ready"]);
  });
});

describe("next edits against a live server", () => {
  const TEXT = "def area(width, h):\n    return w * h\n\nprint(area(2, 3))\n";

  it("the recorded history is accepted and the answer is edits that apply to the text, or no_edit", async () => {
    const history = new EditHistory();
    history.open("geo.py", TEXT.replace("width", "w"));
    history.change("geo.py", TEXT);
    const result = await new CodefillClient({ baseUrl: BASE }).nextEdit(
      { path: "geo.py", language: "python", text: TEXT, cursor: { line: 0, character: 14 }, history: history.events(), user: "vitest-live-ne" },
      AbortSignal.timeout(240_000),
    );
    expect(result.id).toMatch(/\S/);
    expect(result.noEdit).toBe(result.edits.length === 0);
    const lines = TEXT.split("\n");
    for (const e of result.edits) {
      // both ends inside the text, in order
      for (const p of [e.range.start, e.range.end]) expect(p.character).toBeLessThanOrEqual(lines[p.line]?.length ?? -1);
      expect(offsetAt(TEXT, e.range.start)).toBeLessThanOrEqual(offsetAt(TEXT, e.range.end));
    }
  }, 250_000); // the default model rewrites a whole region: slow on a busy CPU

  it("a cursor outside the text is the server's 400, naming the cursor", async () => {
    const client = new CodefillClient({ baseUrl: BASE });
    const ask = { path: "a.py", text: "x = 1\n", cursor: { line: 9, character: 0 }, history: [], user: "vitest-live-ne" };
    const err = await client.nextEdit(ask, AbortSignal.timeout(30_000)).catch((e) => e);
    expect(err).toBeInstanceOf(CodefillError);
    expect(err).toMatchObject({ status: 400, code: "cursor_out_of_range" });
  });
});

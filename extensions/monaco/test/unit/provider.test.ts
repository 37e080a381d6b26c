import { describe, expect, it, vi } from "vitest";
import { CodefillClient, Completer, CompleterSettings, EventTracker } from "../../../common/src/index.js";
import { MODELS, completionStream, fakeFetch, json, sse } from "../../../common/test/fake-fetch.js";
import { LatencyLog, formatMs } from "../../src/latency.js";
import { createProvider, textSource } from "../../src/provider.js";
import { playgroundSettings } from "../../src/settings.js";
import { workerFile } from "../../src/workers.js";

const settings: CompleterSettings = { enabled: true, languages: ["*"], triggerMode: "automatic", debounceMs: 40, maxTokens: 16, mode: "auto" };

/** A monaco ITextModel over a string: 1-based lines, like the real one. */
function model(text: string, language = "python", path = "/main.py") {
  const lines = text.split("\n");
  return {
    getLineCount: () => lines.length,
    getLineContent: (n: number) => lines[n - 1],
    getEOL: () => "\n",
    getLanguageId: () => language,
    uri: { path },
  } as any;
}

function token() {
  const listeners: (() => void)[] = [];
  const t = { isCancellationRequested: false, onCancellationRequested: (l: () => void) => (listeners.push(l), { dispose() {} }) };
  return { t, cancel: () => ((t.isCancellationRequested = true), listeners.forEach((l) => l())) };
}

function setup() {
  const server = fakeFetch((req) => (req.url.endsWith("/v1/models") ? json(200, MODELS) : sse(completionStream("cmpl-m", ["x + 1"]), req.signal)));
  const client = new CodefillClient({ baseUrl: "http://h:1", fetch: server.fetch });
  const events: string[] = [];
  const provider = createProvider(
    new Completer(() => client, () => settings, "s"),
    new EventTracker((e, id) => events.push(`${e}:${id}`)),
  );
  return { provider, events, completions: () => server.calls.filter((c) => c.url.endsWith("/completions")) };
}

// Monaco: InlineCompletionTriggerKind.Automatic = 0, Explicit = 1.
const AUTOMATIC = 0;
const EXPLICIT = 1;

describe("Monaco provider", () => {
  it("converts Monaco's 1-based line and column, and puts the ghost text at the cursor", async () => {
    const { provider, completions } = setup();
    const pos = { lineNumber: 2, column: 12 } as any;
    const list: any = await provider.provideInlineCompletions(model("def f(x):\n    return \n"), pos, { triggerKind: EXPLICIT } as any, token().t as any);
    expect(completions()[0].body).toMatchObject({ prompt: "def f(x):\n    return ", suffix: "\n", language: "python", filepath: "main.py" });
    expect(list.items).toEqual([{ insertText: "x + 1", range: { startLineNumber: 2, startColumn: 12, endLineNumber: 2, endColumn: 12 }, codefillId: "cmpl-m" }]);
  });

  it("debounces Automatic (0) and cancels it with Monaco's token; Explicit (1) goes at once", async () => {
    const { provider, completions } = setup();
    const typing = token();
    const p = provider.provideInlineCompletions(model("x = "), { lineNumber: 1, column: 5 } as any, { triggerKind: AUTOMATIC } as any, typing.t as any);
    await new Promise((r) => setTimeout(r, 5));
    typing.cancel();
    expect(await p).toEqual({ items: [] });
    expect(completions()).toHaveLength(0);

    const q = provider.provideInlineCompletions(model("x = "), { lineNumber: 1, column: 5 } as any, { triggerKind: EXPLICIT } as any, token().t as any);
    await new Promise((r) => setTimeout(r, 5));
    expect(completions()).toHaveLength(1);
    await q;
  });

  it("reports shown, then accepted or dismissed from Monaco's end-of-life reason", () => {
    const { provider, events } = setup();
    const a = { codefillId: "a" } as any;
    const b = { codefillId: "b" } as any;
    provider.handleItemDidShow!({} as any, a, "", {} as any);
    provider.handleEndOfLifetime!({} as any, a, { kind: 0, alternativeAction: false } as any, {} as any); // Accepted
    provider.handleItemDidShow!({} as any, b, "", {} as any);
    provider.handleEndOfLifetime!({} as any, b, { kind: 1 } as any, {} as any); // Rejected
    expect(events).toEqual(["shown:a", "accepted:a", "shown:b", "dismissed:b"]);
  });

  it("reads a model as 0-based lines", () => {
    const src = textSource(model("a\nb"));
    expect([src.lineCount, src.lineAt(0), src.lineAt(1)]).toEqual([2, "a", "b"]);
  });
});

describe("the deadline (the page's deadline control)", () => {
  const controls = { enabled: true, debounce: "0", deadline: "1500", mode: "auto" };
  const sentWith = async (deadline: string) => {
    const server = fakeFetch((req) => (req.url.endsWith("/v1/models") ? json(200, MODELS) : sse(completionStream("c", ["1"]), req.signal)));
    const client = new CodefillClient({ baseUrl: "http://h:1", fetch: server.fetch });
    const provider = createProvider(new Completer(() => client, () => playgroundSettings({ ...controls, deadline }), "s"), new EventTracker(() => undefined));
    await provider.provideInlineCompletions(model("x = "), { lineNumber: 1, column: 5 } as any, { triggerKind: EXPLICIT } as any, token().t as any);
    return server.calls.find((c) => c.url.endsWith("/completions"))!.body;
  };

  it("sends deadline_ms: the page's 1500, what the user typed, nothing at 0", async () => {
    expect((await sentWith("1500")).deadline_ms).toBe(1500);
    expect((await sentWith("")).deadline_ms).toBe(1500); // an emptied box: the default
    expect((await sentWith("400")).deadline_ms).toBe(400);
    expect((await sentWith("99999")).deadline_ms).toBe(60000); // the server's largest
    expect("deadline_ms" in (await sentWith("0"))).toBe(false);
  });

  it("a 503 deadline_exceeded shows no ghost text and no error, and is not asked again", async () => {
    const debug = vi.spyOn(console, "debug").mockImplementation(() => undefined);
    const error = { message: "could not finish before its deadline", type: "service_unavailable", param: "deadline_ms", code: "deadline_exceeded" };
    const server = fakeFetch((req) => (req.url.endsWith("/v1/models") ? json(200, MODELS) : json(503, { error })));
    const client = new CodefillClient({ baseUrl: "http://h:1", fetch: server.fetch });
    const statuses: string[] = [];
    const provider = createProvider(
      new Completer(() => client, () => playgroundSettings(controls), "s", (st, detail) => statuses.push(detail ? `${st}: ${detail}` : st)),
      new EventTracker(() => undefined),
    );
    const list = await provider.provideInlineCompletions(model("x = "), { lineNumber: 1, column: 5 } as any, { triggerKind: EXPLICIT } as any, token().t as any);
    expect(list).toEqual({ items: [] });
    expect(statuses).toEqual(["thinking", "ready"]);
    expect(server.calls.filter((c) => c.url.endsWith("/completions"))).toHaveLength(1);
    debug.mockRestore();
  });
});

describe("latency panel", () => {
  it("keeps the last samples and their median", () => {
    const log = new LatencyLog(3);
    expect(log.medianTotalMs()).toBeNull();
    for (const t of [500, 10, 30, 20]) log.add({ firstTextMs: 1, totalMs: t });
    expect(log.count).toBe(3); // 500 fell out
    expect(log.medianTotalMs()).toBe(20);
    log.add({ firstTextMs: null, totalMs: 40 });
    expect(log.medianTotalMs()).toBe(30);
    expect(formatMs(log.last?.firstTextMs)).toBe("–");
    expect(formatMs(12.6)).toBe("13 ms");
  });
});

describe("workers", () => {
  it("gives the TypeScript service its own worker and everything else the editor worker", () => {
    expect(workerFile("typescript")).toBe("ts.worker.js");
    expect(workerFile("javascript")).toBe("ts.worker.js");
    expect(workerFile("json")).toBe("json.worker.js");
    expect(workerFile("python")).toBe("editor.worker.js");
  });
});

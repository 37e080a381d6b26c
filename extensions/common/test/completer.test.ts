import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { CodefillClient } from "../src/client.js";
import { Completer, CompleterSettings, CompletionAsk, DEFAULT_DEADLINE_MS, Status } from "../src/completer.js";
import { textSourceFromString } from "../src/context.js";
import { MODELS, completionStream, fakeFetch, json, sse } from "./fake-fetch.js";

const base: CompleterSettings = {
  enabled: true,
  languages: ["*"],
  triggerMode: "automatic",
  debounceMs: 150,
  maxTokens: 64,
  mode: "auto",
};

const ask = (over: Partial<CompletionAsk> = {}): CompletionAsk => ({
  doc: textSourceFromString("def add(a, b):\n    return "),
  cursor: { line: 1, character: 11 },
  language: "python",
  filepath: "add.py",
  trigger: "automatic",
  ...over,
});

function setup(settings: Partial<CompleterSettings> = {}, reply = () => completionStream("cmpl-9", [" a + b"])) {
  const server = fakeFetch((req) => (req.url.endsWith("/v1/models") ? json(200, MODELS) : sse(reply(), req.signal)));
  const client = new CodefillClient({ baseUrl: "http://h:1", fetch: server.fetch });
  const statuses: Status[] = [];
  const completer = new Completer(() => client, () => ({ ...base, ...settings }), "sess", (s) => statuses.push(s));
  const completions = () => server.calls.filter((c) => c.url.endsWith("/completions"));
  return { completer, statuses, completions };
}

describe("Completer", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("debounces, then asks the server and goes thinking -> ready", async () => {
    const { completer, statuses, completions } = setup();
    const p = completer.suggest(ask(), new AbortController().signal);
    await vi.advanceTimersByTimeAsync(149);
    expect(completions()).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    const s = await p;
    expect(s).toMatchObject({ id: "cmpl-9", text: " a + b" });
    expect(completions()[0].body).toMatchObject({ prompt: "def add(a, b):\n    return ", suffix: "", user: "sess" });
    expect(statuses).toEqual(["thinking", "ready"]);
  });

  it("sends nothing when the user types on during the debounce", async () => {
    const { completer, completions } = setup();
    const ac = new AbortController();
    const p = completer.suggest(ask(), ac.signal);
    await vi.advanceTimersByTimeAsync(50);
    ac.abort();
    expect(await p).toBeNull();
    await vi.advanceTimersByTimeAsync(1000);
    expect(completions()).toHaveLength(0);
  });

  it("does not debounce a request the user asked for", async () => {
    const { completer, completions } = setup();
    await completer.suggest(ask({ trigger: "explicit" }), new AbortController().signal);
    expect(completions()).toHaveLength(1);
  });

  it("in manual trigger mode serves only explicit requests", async () => {
    const { completer, completions } = setup({ triggerMode: "manual" });
    expect(await completer.suggest(ask(), new AbortController().signal)).toBeNull();
    expect(await completer.suggest(ask({ trigger: "explicit" }), new AbortController().signal)).not.toBeNull();
    expect(completions()).toHaveLength(1);
  });

  it("skips languages that are not enabled, and everything when off", async () => {
    const langs = setup({ languages: ["typescript"], debounceMs: 0 });
    expect(await langs.completer.suggest(ask(), new AbortController().signal)).toBeNull();
    expect(langs.completions()).toHaveLength(0);

    const off = setup({ enabled: false, debounceMs: 0 });
    expect(await off.completer.suggest(ask(), new AbortController().signal)).toBeNull();
    expect(off.statuses).toEqual(["off"]);
    expect(off.completions()).toHaveLength(0);
  });

  it("shows an error status with the server's message", async () => {
    const server = fakeFetch((req) =>
      req.url.endsWith("/v1/models") ? json(200, MODELS) : json(400, { error: { message: "'prompt' is a required parameter." } }),
    );
    const client = new CodefillClient({ baseUrl: "http://h:1", fetch: server.fetch });
    const seen: string[] = [];
    const c = new Completer(() => client, () => ({ ...base, debounceMs: 0 }), "s", (s, d) => seen.push(`${s}${d ? ": " + d : ""}`));
    expect(await c.suggest(ask(), new AbortController().signal)).toBeNull();
    expect(seen).toEqual(["thinking", "error: 'prompt' is a required parameter."]);
  });

  it("sends deadline_ms: 1500 by default, the configured value, nothing at 0", async () => {
    expect(DEFAULT_DEADLINE_MS).toBe(1500);
    for (const [deadlineMs, sent] of [[undefined, 1500], [2500, 2500], [0, undefined]] as const) {
      const { completer, completions } = setup({ debounceMs: 0, deadlineMs });
      await completer.suggest(ask(), new AbortController().signal);
      expect(completions()[0].body.deadline_ms).toBe(sent);
      expect("deadline_ms" in completions()[0].body).toBe(sent !== undefined);
    }
  });

  it("a 503 deadline_exceeded shows nothing, no error, and is not asked again", async () => {
    const debug = vi.spyOn(console, "debug").mockImplementation(() => undefined);
    const error = { message: "could not finish before its deadline", type: "service_unavailable", param: "deadline_ms", code: "deadline_exceeded" };
    const server = fakeFetch((req) => (req.url.endsWith("/v1/models") ? json(200, MODELS) : json(503, { error })));
    const client = new CodefillClient({ baseUrl: "http://h:1", fetch: server.fetch });
    const seen: string[] = [];
    const c = new Completer(() => client, () => ({ ...base, debounceMs: 0 }), "s", (s, d) => seen.push(`${s}${d ? ": " + d : ""}`));
    expect(await c.suggest(ask(), new AbortController().signal)).toBeNull();
    await vi.advanceTimersByTimeAsync(5000);
    expect(seen).toEqual(["thinking", "ready"]);
    expect(server.calls.filter((c) => c.url.endsWith("/completions"))).toHaveLength(1);
    expect(debug).toHaveBeenCalledWith(expect.stringContaining("could not finish before its deadline"));
    debug.mockRestore();
  });

  it("the same for deadline_exceeded in the stream's error event", async () => {
    const debug = vi.spyOn(console, "debug").mockImplementation(() => undefined);
    const event = `data: ${JSON.stringify({ error: { message: "too late", type: "service_unavailable", code: "deadline_exceeded" } })}\n\ndata: [DONE]\n\n`;
    const { completer, statuses } = setup({ debounceMs: 0 }, () => [event]);
    expect(await completer.suggest(ask(), new AbortController().signal)).toBeNull();
    expect(statuses).toEqual(["thinking", "ready"]);
    debug.mockRestore();
  });

  it("lets only the newest request set the status", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let n = 0;
    const server = fakeFetch(async (req) => {
      if (req.url.endsWith("/v1/models")) return json(200, MODELS);
      if (++n === 1) await gate; // the first answer arrives late
      return sse(completionStream(`c${n}`, ["x"]));
    });
    const client = new CodefillClient({ baseUrl: "http://h:1", fetch: server.fetch });
    const statuses: Status[] = [];
    const c = new Completer(() => client, () => ({ ...base, debounceMs: 0 }), "s", (s) => statuses.push(s));
    const first = c.suggest(ask(), new AbortController().signal);
    await vi.advanceTimersByTimeAsync(0);
    const second = c.suggest(ask(), new AbortController().signal);
    await second;
    const afterSecond = [...statuses];
    release();
    await first;
    expect(afterSecond).toEqual(["thinking", "thinking", "ready"]);
    expect(statuses).toEqual(afterSecond); // the late first answer changed nothing
  });
});

import { describe, expect, it } from "vitest";
import { CodefillClient, CodefillError, isNoSuggestion, normalizeBaseUrl } from "../src/client.js";
import { MODELS, completionStream, fakeFetch, json, sse } from "./fake-fetch.js";

const params = {
  prompt: "def add(a, b):\n    return",
  suffix: "\n",
  language: "python",
  filepath: "src/add.py",
  user: "session-1",
  maxTokens: 32,
  mode: "auto" as const,
};

function serverWith(pieces: string[]) {
  return fakeFetch((req) => {
    if (req.url.endsWith("/v1/models")) return json(200, MODELS);
    if (req.url.endsWith("/v1/completions")) return sse(completionStream("cmpl-1", pieces), req.signal);
    return json(404, { error: { message: "No such endpoint", type: "not_found_error", code: null } });
  });
}

describe("CodefillClient.complete", () => {
  it("sends prompt, suffix, language, file path, session and the server's model, streamed", async () => {
    const { fetch, calls } = serverWith([" a", " + b"]);
    const client = new CodefillClient({ baseUrl: "http://h:1/v1/", fetch, apiKey: () => "sk-test" });
    const result = await client.complete(params, new AbortController().signal);

    expect(result).toMatchObject({ id: "cmpl-1", text: " a + b", finishReason: "stop" });
    expect(result.firstTextMs).not.toBeNull();
    const post = calls.find((c) => c.method === "POST")!;
    expect(post.url).toBe("http://h:1/v1/completions");
    expect(post.headers.Authorization).toBe("Bearer sk-test");
    expect(post.headers["X-Session-Id"]).toBe("session-1");
    expect(post.body).toMatchObject({
      model: "tiny-model",
      prompt: params.prompt,
      suffix: "\n",
      language: "python",
      filepath: "src/add.py",
      user: "session-1",
      max_tokens: 32,
      mode: "auto",
      stream: true,
      temperature: 0,
    });
  });

  it("sends deadline_ms when given one, and leaves it out at 0 or unset", async () => {
    const { fetch, calls } = serverWith(["x"]);
    const client = new CodefillClient({ baseUrl: "http://h:1", fetch });
    await client.complete({ ...params, deadlineMs: 700 }, new AbortController().signal);
    await client.complete({ ...params, deadlineMs: 0 }, new AbortController().signal);
    await client.complete(params, new AbortController().signal);
    const bodies = calls.filter((c) => c.method === "POST").map((c) => c.body);
    expect(bodies[0].deadline_ms).toBe(700);
    expect("deadline_ms" in bodies[1]).toBe(false);
    expect("deadline_ms" in bodies[2]).toBe(false);
  });

  it("a 503 deadline_exceeded or a 409 superseded is 'no suggestion', other errors are not", async () => {
    const answers: Record<string, Response> = {};
    const { fetch } = fakeFetch((req) => (req.url.endsWith("/v1/models") ? json(200, MODELS) : answers.next));
    const client = new CodefillClient({ baseUrl: "http://h:1", fetch });
    const failure = async (status: number, error: object) => {
      answers.next = json(status, { error });
      return client.complete(params, new AbortController().signal).then(() => null, (e) => e);
    };
    const late = await failure(503, { message: "could not finish before its deadline", type: "service_unavailable", param: "deadline_ms", code: "deadline_exceeded" });
    expect(late).toMatchObject({ status: 503, code: "deadline_exceeded", param: "deadline_ms" });
    expect(isNoSuggestion(late)).toBe(true);
    expect(isNoSuggestion(await failure(409, { message: "superseded", code: "superseded" }))).toBe(true);
    expect(isNoSuggestion(await failure(503, { message: "The model is still loading.", code: "model_loading" }))).toBe(false);
    expect(isNoSuggestion(new Error("deadline_exceeded"))).toBe(false);
  });

  it("asks GET /v1/models once and then reuses the id", async () => {
    const { fetch, calls } = serverWith(["x"]);
    const client = new CodefillClient({ baseUrl: "http://h:1", fetch });
    await client.complete(params, new AbortController().signal);
    await client.complete(params, new AbortController().signal);
    expect(calls.filter((c) => c.url.endsWith("/v1/models"))).toHaveLength(1);
    expect(calls.some((c) => "Authorization" in c.headers)).toBe(false); // no key, no header
  });

  it("reports the text as it grows", async () => {
    const { fetch } = serverWith(["a", "b", "c"]);
    const seen: string[] = [];
    await new CodefillClient({ baseUrl: "http://h:1", fetch }).complete(params, new AbortController().signal, (t) => seen.push(t));
    expect(seen).toEqual(["a", "ab", "abc"]);
  });

  it("passes the abort signal to the HTTP request, so aborting closes it", async () => {
    const ac = new AbortController();
    const { fetch, calls } = fakeFetch((req) => {
      if (req.url.endsWith("/v1/models")) return json(200, MODELS);
      ac.abort(); // the user typed on while the answer streams
      return sse(completionStream("cmpl-2", ["never", "seen"]), req.signal);
    });
    const client = new CodefillClient({ baseUrl: "http://h:1", fetch });
    await expect(client.complete(params, ac.signal)).rejects.toMatchObject({ name: "AbortError" });
    expect(calls.at(-1)!.signal).toBe(ac.signal);
  });

  it("turns an OpenAI error object into a CodefillError with its message and code", async () => {
    const { fetch } = fakeFetch((req) =>
      req.url.endsWith("/v1/models")
        ? json(200, MODELS)
        : json(503, { error: { message: "The model is still loading.", type: "service_unavailable", code: "model_loading" } }),
    );
    const err = await new CodefillClient({ baseUrl: "http://h:1", fetch })
      .complete(params, new AbortController().signal)
      .catch((e) => e);
    expect(err).toBeInstanceOf(CodefillError);
    expect(err).toMatchObject({ status: 503, code: "model_loading", message: "The model is still loading." });
  });

  it("surfaces an error sent inside the stream", async () => {
    const { fetch } = fakeFetch((req) =>
      req.url.endsWith("/v1/models")
        ? json(200, MODELS)
        : sse(['data: {"error": {"message": "boom", "code": "internal_error"}}\n\n', "data: [DONE]\n\n"]),
    );
    await expect(new CodefillClient({ baseUrl: "http://h:1", fetch }).complete(params, new AbortController().signal)).rejects.toMatchObject({
      message: "boom",
      code: "internal_error",
    });
  });

  it("says which server it cannot reach", async () => {
    const fetch = (async () => {
      throw new TypeError("fetch failed", { cause: { code: "ECONNREFUSED" } });
    }) as typeof globalThis.fetch;
    await expect(new CodefillClient({ baseUrl: "http://h:1", fetch }).models()).rejects.toMatchObject({
      message: "cannot reach http://h:1: ECONNREFUSED",
      code: "unreachable",
    });
  });
});

describe("CodefillClient.sendEvent", () => {
  it("posts the event, and stops after a 404 from a server without the endpoint", async () => {
    const { fetch, calls } = serverWith([]);
    const client = new CodefillClient({ baseUrl: "http://h:1", fetch, reportEvents: true });
    expect(await client.sendEvent("shown", "cmpl-1")).toBe("unsupported");
    expect(calls[0].body).toEqual({ event: "shown", completion_id: "cmpl-1" });
    expect(await client.sendEvent("accepted", "cmpl-1")).toBe("unsupported");
    expect(calls).toHaveLength(1); // not asked again
  });

  it("sends when the server has the endpoint, and nothing when reporting is off", async () => {
    const ok = fakeFetch(() => json(200, { ok: true }));
    expect(await new CodefillClient({ baseUrl: "http://h:1", fetch: ok.fetch, reportEvents: true }).sendEvent("accepted", "c")).toBe("sent");
    const off = fakeFetch(() => json(200, {}));
    expect(await new CodefillClient({ baseUrl: "http://h:1", fetch: off.fetch }).sendEvent("accepted", "c")).toBe("off");
    expect(off.calls).toHaveLength(0);
  });
});

describe("normalizeBaseUrl", () => {
  it("accepts the server with or without /v1 and trailing slashes", () => {
    for (const u of ["http://h:8000", "http://h:8000/", "http://h:8000/v1", " http://h:8000/v1/ "]) {
      expect(normalizeBaseUrl(u)).toBe("http://h:8000");
    }
  });
});

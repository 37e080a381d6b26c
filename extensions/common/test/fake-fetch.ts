/** A fetch that answers from a script, records requests, and honours AbortSignal like the real one. */

export interface Recorded {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: any;
  signal?: AbortSignal | null;
}

export type Handler = (req: Recorded) => Response | Promise<Response>;

export function fakeFetch(handler: Handler) {
  const calls: Recorded[] = [];
  const fn = async (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
    const req: Recorded = {
      url: String(input),
      method: init.method ?? "GET",
      headers: (init.headers ?? {}) as Record<string, string>,
      body: init.body ? JSON.parse(String(init.body)) : undefined,
      signal: init.signal,
    };
    calls.push(req);
    if (init.signal?.aborted) throw abortError();
    return handler(req);
  };
  return { fetch: fn as typeof fetch, calls };
}

export function abortError(): Error {
  const err = new Error("This operation was aborted");
  err.name = "AbortError";
  return err;
}

export function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

/** An SSE response whose events are the given chunks, each a separate network read. */
export function sse(chunks: string[], signal?: AbortSignal | null): Response {
  const enc = new TextEncoder();
  let i = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (signal?.aborted) return controller.error(abortError());
      if (i < chunks.length) controller.enqueue(enc.encode(chunks[i++]));
      else controller.close();
    },
  });
  return new Response(stream, { status: 200, headers: { "Content-Type": "text/event-stream" } });
}

/** OpenAI completion chunks for `pieces`, then [DONE]. */
export function completionStream(id: string, pieces: string[], finish = "stop"): string[] {
  const out = pieces.map(
    (text) => `data: ${JSON.stringify({ id, object: "text_completion", choices: [{ index: 0, text, finish_reason: null }] })}\n\n`,
  );
  out.push(`data: ${JSON.stringify({ id, object: "text_completion", choices: [{ index: 0, text: "", finish_reason: finish }] })}\n\n`);
  out.push("data: [DONE]\n\n");
  return out;
}

export const MODELS = { object: "list", data: [{ id: "tiny-model", object: "model" }] };

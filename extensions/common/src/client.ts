/**
 * The HTTP layer every client shares: POST /v1/completions (streamed),
 * POST /v1/next_edit, GET /v1/models, POST /v1/events. Nothing editor-specific lives here.
 *
 * Cancellation is the AbortSignal: aborting it closes the connection, and
 * closing the connection is what makes the server stop generating.
 */

import type { HistoryEvent } from "./history.js";
import type { NextEditResult, TextEdit } from "./nextedit.js";
import { SseDecoder } from "./sse.js";

export type Mode = "auto" | "single_line" | "multi_line" | "raw";
export type EventKind = "shown" | "accepted" | "dismissed";

export interface CompletionParams {
  prompt: string;
  suffix: string;
  language: string;
  filepath: string;
  /** The editor session: the server supersedes older requests of the same session and keeps its cache. */
  user: string;
  maxTokens: number;
  mode: Mode;
  /**
   * How long the editor waits for the answer, sent as `deadline_ms`: the server drops an
   * answer that would come later (503 `deadline_exceeded`). 0 or unset: not sent (the server
   * learns a deadline from the session's typing). The Completer sends its setting, 1500 by default.
   */
  deadlineMs?: number;
  temperature?: number;
  /** Leave empty to use the first model of GET /v1/models. */
  model?: string;
}

export interface NextEditParams {
  path: string;
  language?: string;
  /** The whole file. */
  text: string;
  cursor: { line: number; character: number };
  /** The recent edits as unified diffs, oldest first (EditHistory.events()). */
  history: HistoryEvent[];
  related?: { path: string; text: string }[];
  /** The editor session, as for completions. */
  user: string;
  /** Leave empty to use the first model of GET /v1/models. */
  model?: string;
}

export interface CompletionResult {
  id: string;
  text: string;
  finishReason: string | null;
  /** Milliseconds from sending the request to the first text (null if none came). */
  firstTextMs: number | null;
  totalMs: number;
}

export interface ClientOptions {
  /** The server, e.g. http://127.0.0.1:8000 (a trailing /v1 is accepted too). */
  baseUrl: string;
  /** Sent as a Bearer token when set. A function so a changed key needs no new client. */
  apiKey?: () => string | undefined | Promise<string | undefined>;
  fetch?: typeof fetch;
  /** Report shown/accepted/dismissed to POST /v1/events. */
  reportEvents?: boolean;
}

/** An OpenAI error object from the server, or a transport failure. */
export class CodefillError extends Error {
  constructor(
    message: string,
    readonly status: number | null,
    readonly code: string | null = null,
    /** The request parameter the server named as at fault, if it named one. */
    readonly param: string | null = null,
  ) {
    super(message);
    this.name = "CodefillError";
  }
}

/**
 * The server's "no answer for this one, and nothing is wrong": a newer request of the session
 * superseded it (409 `superseded`), or it could not finish before the request's `deadline_ms`,
 * when the editor no longer waits for it (503 `deadline_exceeded`; in a stream, an error event
 * with that code). A client shows no suggestion, no error, and does not ask again.
 */
export function isNoSuggestion(err: unknown): boolean {
  return err instanceof CodefillError && (err.code === "superseded" || err.code === "deadline_exceeded");
}

export function isAbortError(err: unknown): boolean {
  return typeof err === "object" && err !== null && (err as { name?: string }).name === "AbortError";
}

export function normalizeBaseUrl(url: string): string {
  return url.trim().replace(/\/+$/, "").replace(/\/v1$/, "");
}

export class CodefillClient {
  readonly baseUrl: string;
  private readonly fetchImpl: typeof fetch;
  private model: string | undefined;
  /** Set once the server has said 404 to /v1/events: an older server, so stop asking. */
  eventsUnsupported = false;

  constructor(private readonly options: ClientOptions) {
    this.baseUrl = normalizeBaseUrl(options.baseUrl);
    this.fetchImpl = options.fetch ?? ((input, init) => fetch(input, init));
  }

  private async headers(json: boolean): Promise<Record<string, string>> {
    const headers: Record<string, string> = { Accept: json ? "application/json" : "text/event-stream" };
    const key = await this.options.apiKey?.();
    if (key) headers.Authorization = `Bearer ${key}`;
    return headers;
  }

  private async request(path: string, init: RequestInit & { json?: unknown; session?: string }, stream = false): Promise<Response> {
    const headers = await this.headers(!stream);
    if (init.json !== undefined) headers["Content-Type"] = "application/json";
    // The session as a header too: what a load balancer in front of several servers hashes on.
    if (init.session) headers["X-Session-Id"] = init.session;
    let response: Response;
    try {
      response = await this.fetchImpl(this.baseUrl + path, {
        ...init,
        headers,
        body: init.json !== undefined ? JSON.stringify(init.json) : undefined,
      });
    } catch (err) {
      if (isAbortError(err)) throw err;
      throw new CodefillError(`cannot reach ${this.baseUrl}: ${describe(err)}`, null, "unreachable");
    }
    if (!response.ok) throw await errorFrom(response);
    return response;
  }

  /** The ids of GET /v1/models. */
  async models(signal?: AbortSignal): Promise<string[]> {
    const response = await this.request("/v1/models", { method: "GET", signal });
    const body = (await response.json()) as { data?: { id: string }[] };
    const ids = (body.data ?? []).map((m) => m.id);
    this.model ??= ids[0];
    return ids;
  }

  /** The model to send: the configured one, else the server's first, asked once. */
  async resolveModel(configured: string | undefined, signal?: AbortSignal): Promise<string> {
    if (configured) return configured;
    if (!this.model) {
      const ids = await this.models(signal);
      if (!ids.length) throw new CodefillError("the server lists no models", null, "no_models");
      this.model = ids[0];
    }
    return this.model;
  }

  /**
   * One completion, streamed: `onText` sees the text so far as it grows (the
   * playground uses it for time-to-first-text). Rejects with an AbortError when
   * `signal` aborts, with a CodefillError when the server says no.
   */
  async complete(params: CompletionParams, signal: AbortSignal, onText?: (text: string) => void): Promise<CompletionResult> {
    const model = await this.resolveModel(params.model, signal);
    const started = now();
    const json: Record<string, unknown> = {
      model,
      prompt: params.prompt,
      suffix: params.suffix,
      max_tokens: params.maxTokens,
      temperature: params.temperature ?? 0,
      stream: true,
      user: params.user,
      mode: params.mode,
      language: params.language,
      filepath: params.filepath,
    };
    if (params.deadlineMs && params.deadlineMs > 0) json.deadline_ms = Math.round(params.deadlineMs);
    const response = await this.request("/v1/completions", { method: "POST", signal, session: params.user, json }, true);
    if (!response.body) throw new CodefillError("the server sent an empty response", response.status);

    const decoder = new SseDecoder();
    const result: CompletionResult = { id: "", text: "", finishReason: null, firstTextMs: null, totalMs: 0 };
    const reader = response.body.getReader();
    let done = false;
    try {
      while (!done) {
        const chunk = await reader.read();
        const events = chunk.done ? decoder.end() : decoder.push(chunk.value);
        for (const data of events) {
          if (data === "[DONE]") {
            done = true;
            break;
          }
          const body = JSON.parse(data);
          if (body.error) throw new CodefillError(body.error.message ?? "server error", 500, body.error.code ?? null);
          result.id ||= body.id ?? "";
          const choice = body.choices?.[0];
          if (!choice) continue;
          if (choice.text) {
            result.firstTextMs ??= now() - started;
            result.text += choice.text;
            onText?.(result.text);
          }
          if (choice.finish_reason) result.finishReason = choice.finish_reason;
        }
        if (chunk.done) break;
      }
    } finally {
      // Closes the connection if we stopped early (an error, or [DONE] before EOF).
      reader.cancel().catch(() => undefined);
    }
    result.totalMs = now() - started;
    return result;
  }

  /**
   * The edits the server predicts next. Rejects with an AbortError when
   * `signal` aborts, with a CodefillError when the server says no (a server
   * without the endpoint: 404).
   */
  async nextEdit(params: NextEditParams, signal: AbortSignal): Promise<NextEditResult> {
    const model = await this.resolveModel(params.model, signal);
    const json: Record<string, unknown> = {
      model,
      path: params.path,
      language: params.language,
      text: params.text,
      cursor: params.cursor,
      history: params.history,
      user: params.user,
    };
    if (params.related?.length) json.related = params.related;
    const response = await this.request("/v1/next_edit", { method: "POST", signal, session: params.user, json });
    const body = (await response.json()) as { id?: string; model?: string; edits?: TextEdit[]; no_edit?: boolean };
    const edits = Array.isArray(body.edits) ? body.edits : [];
    return { id: body.id ?? "", model: body.model ?? model, edits, noEdit: body.no_edit === true || edits.length === 0 };
  }

  /**
   * Tell the server what became of a completion. Never throws: events are a
   * nicety, and a server without the endpoint (404) is asked no more.
   */
  async sendEvent(event: EventKind, completionId: string): Promise<"sent" | "unsupported" | "failed" | "off"> {
    if (!this.options.reportEvents || !completionId) return "off";
    if (this.eventsUnsupported) return "unsupported";
    try {
      await this.request("/v1/events", { method: "POST", json: { event, completion_id: completionId } });
      return "sent";
    } catch (err) {
      // 404/405 for the endpoint itself: an older server. A 404 naming the completion
      // (restarted server, another key's id) is only this event's failure.
      if (err instanceof CodefillError && (err.status === 404 || err.status === 405) && err.code !== "completion_not_found") {
        this.eventsUnsupported = true;
        return "unsupported";
      }
      return "failed";
    }
  }
}

async function errorFrom(response: Response): Promise<CodefillError> {
  let message = `HTTP ${response.status}`;
  let code: string | null = null;
  let param: string | null = null;
  try {
    const body = await response.json();
    if (body?.error?.message) message = body.error.message;
    code = body?.error?.code ?? null;
    param = body?.error?.param ?? null;
  } catch {
    // not JSON (a proxy's error page): the status says enough
  }
  return new CodefillError(message, response.status, code, param);
}

function describe(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } })?.cause;
  return cause?.code ?? cause?.message ?? (err instanceof Error ? err.message : String(err));
}

function now(): number {
  return typeof performance !== "undefined" ? performance.now() : Date.now();
}

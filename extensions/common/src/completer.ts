/**
 * The one decision every editor client makes per keystroke: ask the server or
 * not, when, and with what. Editors adapt their document, cursor and
 * cancellation to this; the thinking stays on the server.
 */

import { CodefillClient, CompletionResult, isAbortError, isNoSuggestion, Mode } from "./client.js";
import { buildContext, Cursor, DEFAULT_WINDOW, TextSource, WindowOptions } from "./context.js";
import { debounce } from "./debounce.js";
import type { Trigger } from "./triggers.js";

export type Status = "ready" | "thinking" | "error" | "off";
export type TriggerMode = "automatic" | "manual";

export interface CompleterSettings {
  enabled: boolean;
  /** Editor language ids to complete in; "*" means all. */
  languages: string[];
  /** "manual": only when the user asks (the editor's trigger command). */
  triggerMode: TriggerMode;
  debounceMs: number;
  /**
   * How long the editor waits for ghost text (`deadlineMs` in every client): sent as
   * `deadline_ms`, so the server drops an answer later than this instead of computing it.
   * 0: not sent (the server learns a deadline from the typing). Unset: DEFAULT_DEADLINE_MS.
   */
  deadlineMs?: number;
  maxTokens: number;
  mode: Mode;
  model?: string;
  window?: WindowOptions;
}

/** The deadlineMs of every client unless the user sets one (docs/CLIENTS.md, "The deadline"). */
export const DEFAULT_DEADLINE_MS = 1500;

export interface CompletionAsk {
  doc: TextSource;
  cursor: Cursor;
  language: string;
  filepath: string;
  trigger: Trigger;
}

export interface Suggestion {
  id: string;
  text: string;
  result: CompletionResult;
}

export function languageEnabled(languages: string[], language: string): boolean {
  return languages.includes("*") || languages.includes(language);
}

export function newSessionId(): string {
  const c = globalThis.crypto as Crypto | undefined;
  // randomUUID needs a secure context in browsers; a playground on plain http
  // from another host is not one.
  if (c?.randomUUID) return c.randomUUID();
  return "s-" + Math.random().toString(36).slice(2) + Date.now().toString(36);
}

export class Completer {
  /** Ticket of the newest request: only it may change the status, so a
   * superseded request finishing late cannot say "ready" over a newer "thinking". */
  private latest = 0;

  constructor(
    private readonly client: () => CodefillClient,
    private readonly settings: () => CompleterSettings,
    readonly sessionId: string,
    private readonly onStatus: (status: Status, detail?: string) => void = () => undefined,
    private readonly onText?: (text: string) => void,
  ) {}

  async suggest(ask: CompletionAsk, signal: AbortSignal): Promise<Suggestion | null> {
    const s = this.settings();
    if (!s.enabled) {
      this.onStatus("off");
      return null;
    }
    if (!languageEnabled(s.languages, ask.language)) return null;
    if (ask.trigger === "automatic" && s.triggerMode === "manual") return null;

    // An explicit request is the user waiting: no debounce for it.
    if (ask.trigger === "automatic" && !(await debounce(s.debounceMs, signal))) return null;
    if (signal.aborted) return null;

    const ctx = buildContext(ask.doc, ask.cursor, s.window ?? DEFAULT_WINDOW);
    if (!ctx.prompt.trim() && ask.trigger === "automatic") return null; // nothing to go on yet

    const ticket = ++this.latest;
    this.status(ticket, "thinking");
    try {
      const result = await this.client().complete(
        {
          prompt: ctx.prompt,
          suffix: ctx.suffix,
          language: ask.language,
          filepath: ask.filepath,
          user: this.sessionId,
          maxTokens: s.maxTokens,
          mode: s.mode,
          model: s.model,
          deadlineMs: s.deadlineMs ?? DEFAULT_DEADLINE_MS,
        },
        signal,
        this.onText,
      );
      this.status(ticket, "ready");
      if (signal.aborted || !result.text) return null;
      return { id: result.id, text: result.text, result };
    } catch (err) {
      if (isAbortError(err) || signal.aborted) {
        this.status(ticket, "ready");
        return null;
      }
      if (isNoSuggestion(err)) {
        // Superseded, or too late for the deadline: nothing is wrong, and asking again would be later still.
        console.debug(`codefill: no suggestion (${(err as Error).message})`);
        this.status(ticket, "ready");
        return null;
      }
      this.status(ticket, "error", err instanceof Error ? err.message : String(err));
      return null;
    }
  }

  private status(ticket: number, status: Status, detail?: string): void {
    if (ticket === this.latest) this.onStatus(status, detail);
  }
}

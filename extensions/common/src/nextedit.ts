/**
 * Next-edit suggestions, editor-agnostic: ask POST /v1/next_edit with the
 * file, the cursor and the edit history, keep the edit worth showing, and say
 * how an editor can show it: as ghost text on the cursor's line (an inline
 * completion with a range) when it only inserts at or after the cursor there,
 * else as a marked place that Tab jumps to and applies.
 *
 * Positions are 0-based lines and characters in UTF-16 code units, like
 * every editor API here and the server.
 */

import { CodefillClient, CodefillError, isAbortError } from "./client.js";
import { Status, languageEnabled } from "./completer.js";
import type { Cursor } from "./context.js";
import { debounce } from "./debounce.js";
import { EditHistory, HistoryEvent, toLF } from "./history.js";

export interface TextRange {
  start: Cursor;
  end: Cursor;
}

export interface TextEdit {
  range: TextRange;
  text: string;
}

export interface NextEditResult {
  id: string;
  model: string;
  /** In file order, none overlapping; empty when noEdit. */
  edits: TextEdit[];
  noEdit: boolean;
}

export interface NextEditSettings {
  enabled: boolean;
  /** Editor language ids to suggest in ("*": all); absent: all. */
  languages?: string[];
  /** Wait this long after the last change before asking. */
  debounceMs: number;
  model?: string;
}

export interface NextEditAsk {
  path: string;
  language: string;
  text: string;
  cursor: Cursor;
}

/** How to show an edit on the cursor's line as ghost text: replace `range` (which starts at the cursor) with `insertText`. */
export interface InlineEdit {
  range: TextRange;
  insertText: string;
}

export interface NextEditSuggestion {
  id: string;
  /** The edit to show: the server's nearest to the cursor. */
  edit: TextEdit;
  /** Set when the edit can be ghost text at the cursor; null: show it as a jump. */
  inline: InlineEdit | null;
  /** The text it was computed for: an editor drops the suggestion once its text differs. */
  text: string;
}

export function splitLines(text: string): string[] {
  return text.split(/\r\n|\n/);
}

/** Character offset of a position in `text` (clamped into the text). */
export function offsetAt(text: string, pos: Cursor): number {
  const lines = splitLines(text);
  const eol = text.includes("\r\n") ? 2 : 1;
  const line = Math.min(Math.max(pos.line, 0), lines.length - 1);
  let offset = 0;
  for (let i = 0; i < line; i++) offset += lines[i].length + eol;
  return offset + Math.min(Math.max(pos.character, 0), lines[line].length);
}

/** `text` with `edits` applied (non-overlapping, any order). */
export function applyEdits(text: string, edits: TextEdit[]): string {
  const spans = edits
    .map((e) => ({ from: offsetAt(text, e.range.start), to: offsetAt(text, e.range.end), text: e.text }))
    .sort((a, b) => b.from - a.from);
  let out = text;
  for (const s of spans) out = out.slice(0, s.from) + s.text + out.slice(s.to);
  return out;
}

/** Where the cursor goes after `edit` is applied: the end of its new text. */
export function endOfEdit(edit: TextEdit): Cursor {
  const lines = splitLines(edit.text);
  const line = edit.range.start.line + lines.length - 1;
  const character = (lines.length === 1 ? edit.range.start.character : 0) + lines[lines.length - 1].length;
  return { line, character };
}

/** The edit as ghost text at the cursor, or null where ghost text cannot draw it. */
export function inlineEditAt(text: string, edit: TextEdit, cursor: Cursor): InlineEdit | null {
  const { start, end } = edit.range;
  if (start.line !== cursor.line || end.line !== cursor.line || /[\r\n]/.test(edit.text)) return null;
  if (start.character < cursor.character) return null; // it would change text before the cursor
  const line = splitLines(text)[cursor.line] ?? "";
  // Ghost text only adds characters: what the edit replaces must survive inside its new text.
  if (!isSubsequence(line.slice(start.character, end.character), edit.text)) return null;
  return {
    range: { start: cursor, end },
    insertText: line.slice(cursor.character, start.character) + edit.text,
  };
}

/** What an editor says about a shown next edit (tooltips, hovers). */
export const NEXT_EDIT_HINT = "codefill: next edit (Tab: go there and apply it, Esc: dismiss)";

/** The edit's new text on one line, to draw beside the code: its first line, "…" if there is more; "" for a deletion. */
export function previewOf(text: string): string {
  const [first, ...more] = splitLines(text);
  return (first || (more.length ? "⏎" : "")) + (more.length ? " …" : "");
}

/** A hover in Markdown: the hint and the whole new text. */
export function hoverOf(text: string): string {
  return `**${NEXT_EDIT_HINT}**\n\n\`\`\`\n${text}\n\`\`\``;
}

function isSubsequence(small: string, big: string): boolean {
  let i = 0;
  for (const c of big) if (i < small.length && small[i] === c) i++;
  return i === small.length;
}

function distance(edit: TextEdit, cursor: Cursor): number {
  const { start, end } = edit.range;
  if (cursor.line < start.line) return start.line - cursor.line;
  if (cursor.line > end.line) return cursor.line - end.line;
  return 0;
}

/** The server's edits, less those that change nothing, nearest to the cursor first. */
export function usefulEdits(text: string, edits: TextEdit[], cursor: Cursor): TextEdit[] {
  return edits
    .filter((e) => text.slice(offsetAt(text, e.range.start), offsetAt(text, e.range.end)) !== e.text)
    .sort((a, b) => distance(a, cursor) - distance(b, cursor));
}

export class NextEditor {
  /** Set once the server answers 404 for the endpoint itself: a server without next edits, not asked again. */
  unsupported = false;
  private latest = 0;

  constructor(
    private readonly client: () => CodefillClient,
    private readonly settings: () => NextEditSettings,
    readonly history: EditHistory,
    readonly sessionId: string,
    private readonly onStatus: (status: Status, detail?: string) => void = () => undefined,
  ) {}

  /**
   * `ask` may be a function: it is called after the debounce, so that the text and the cursor
   * are read together once the editor has settled (editors report a change before they move
   * the cursor past it).
   */
  async suggest(asked: NextEditAsk | (() => NextEditAsk | null), signal: AbortSignal): Promise<NextEditSuggestion | null> {
    const s = this.settings();
    if (!s.enabled || this.unsupported) return null;
    if (!(await debounce(s.debounceMs, signal))) return null;
    const asking = typeof asked === "function" ? asked() : asked;
    if (!asking) return null;
    // Sent with "\n" line breaks whatever the document's: lines and characters are the same, and
    // editors turn the edits' "\n" into the document's line break when they apply them.
    const ask = { ...asking, text: toLF(asking.text) };
    if (s.languages && !languageEnabled(s.languages, ask.language)) return null;
    this.history.change(ask.path, ask.text); // the history's newest diff must lead to exactly this text
    const ticket = ++this.latest;
    const send = (history: HistoryEvent[]) =>
      this.client().nextEdit({ path: ask.path, language: ask.language, text: ask.text, cursor: ask.cursor, history, user: this.sessionId, model: s.model }, signal);
    try {
      let result: NextEditResult;
      try {
        result = await send(this.history.events());
      } catch (err) {
        // A history the server cannot read (a diff that does not apply, say after an undo the editor
        // reported oddly) must not stop next edits: forget it and ask once more without it.
        if (!(err instanceof CodefillError && err.status === 400 && /^history/.test(err.param ?? ""))) throw err;
        this.history.clear();
        result = await send([]);
      }
      if (ticket === this.latest) this.onStatus("ready");
      if (signal.aborted || result.noEdit) return null;
      const [edit] = usefulEdits(ask.text, result.edits, ask.cursor);
      if (!edit) return null;
      return { id: result.id, edit, inline: inlineEditAt(ask.text, edit, ask.cursor), text: ask.text };
    } catch (err) {
      if (isAbortError(err) || signal.aborted) return null;
      if (err instanceof CodefillError && err.status === 404 && err.code !== "model_not_found") this.unsupported = true;
      else if (ticket === this.latest) this.onStatus("error", err instanceof Error ? err.message : String(err));
      return null;
    }
  }
}

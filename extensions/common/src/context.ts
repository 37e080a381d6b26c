/**
 * The text around the cursor that a request carries: whole lines, about
 * `linesBefore` above and `linesAfter` below.
 *
 * The first line of the window is rounded down to a multiple of `anchorLines`,
 * so while the user types (or moves a few lines) the head of the prompt stays
 * byte-for-byte the same and the server can reuse its KV cache for it. A
 * window that slid by one line per keystroke would make every request a cold
 * prefill.
 */

/** A document as the clients see it: lines without their line breaks. */
export interface TextSource {
  readonly lineCount: number;
  lineAt(line: number): string;
  /** The document's line break ("\n" or "\r\n"). */
  readonly eol: string;
}

export interface Cursor {
  line: number; // 0-based
  character: number; // 0-based, in UTF-16 code units like every editor API here
}

export interface WindowOptions {
  linesBefore: number;
  linesAfter: number;
  anchorLines: number;
}

export const DEFAULT_WINDOW: WindowOptions = { linesBefore: 120, linesAfter: 40, anchorLines: 32 };

export interface CompletionContext {
  /** Text before the cursor: whole lines from `firstLine`, then the current line up to the cursor. */
  prompt: string;
  /** Text after the cursor: the rest of the current line, then whole lines up to `lastLine`. */
  suffix: string;
  firstLine: number;
  lastLine: number;
}

export function windowStart(cursorLine: number, opts: WindowOptions = DEFAULT_WINDOW): number {
  const wanted = Math.max(0, cursorLine - opts.linesBefore);
  const anchor = Math.max(1, opts.anchorLines);
  return Math.floor(wanted / anchor) * anchor;
}

export function buildContext(doc: TextSource, cursor: Cursor, opts: WindowOptions = DEFAULT_WINDOW): CompletionContext {
  const line = Math.min(Math.max(cursor.line, 0), Math.max(doc.lineCount - 1, 0));
  const current = doc.lineCount > 0 ? doc.lineAt(line) : "";
  const character = Math.min(Math.max(cursor.character, 0), current.length);
  const firstLine = windowStart(line, opts);
  const lastLine = Math.min(doc.lineCount - 1, line + opts.linesAfter);

  const before: string[] = [];
  for (let i = firstLine; i < line; i++) before.push(doc.lineAt(i));
  const after: string[] = [];
  for (let i = line + 1; i <= lastLine; i++) after.push(doc.lineAt(i));

  const head = before.length ? before.join(doc.eol) + doc.eol : "";
  const tail = after.length ? doc.eol + after.join(doc.eol) : "";
  return {
    prompt: head + current.slice(0, character),
    suffix: current.slice(character) + tail,
    firstLine,
    lastLine: Math.max(lastLine, line),
  };
}

/** A TextSource over a plain string (Monaco models and tests). */
export function textSourceFromString(text: string): TextSource {
  const eol = text.includes("\r\n") ? "\r\n" : "\n";
  const lines = text.split(/\r?\n/);
  return { lineCount: lines.length, lineAt: (i) => lines[i] ?? "", eol };
}

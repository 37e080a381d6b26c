/**
 * The user's recent edits, as POST /v1/next_edit wants them: a list of
 * {path, diff} events, oldest first, each a unified diff (npm `diff`).
 *
 * The editor feeds it every document it opens and every text a document
 * changes to. Keystrokes close together are one edit: while the user keeps
 * typing in the same file within a few lines of the last change, the newest
 * event grows (its diff is taken from the text before the first keystroke);
 * an edit elsewhere, in another file or after a pause starts a new event.
 * Bounded in events, in bytes of diffs and in the size of a file it follows;
 * diffs are made only when events() is asked for, never per keystroke.
 * Texts are kept with "\n" line breaks (CRLF documents too), as the
 * next-edit requests send them.
 */

import { FILE_HEADERS_ONLY, createPatch } from "diff";

export interface HistoryEvent {
  path: string;
  diff: string;
}

export interface HistoryOptions {
  /** Most events kept (the oldest go first). */
  maxEvents: number;
  /** Most bytes of diffs sent (the oldest events go first). */
  maxBytes: number;
  /** Files larger than this are not followed (no snapshot, no diffs). */
  maxFileChars: number;
  /** A change this many lines or fewer from the last one continues the same edit. */
  nearLines: number;
  /** A change after this long a pause starts a new edit. */
  pauseMs: number;
}

// The server takes up to 64 events and 64 KiB of diffs; a next-edit model reads the last few.
export const DEFAULT_HISTORY: HistoryOptions = { maxEvents: 16, maxBytes: 16 * 1024, maxFileChars: 1_000_000, nearLines: 8, pauseMs: 5_000 };

interface Edit {
  path: string;
  before: string;
  after: string;
  /** Lines of `after` the edit has touched so far (0-based, inclusive). */
  first: number;
  last: number;
  at: number;
}

export class EditHistory {
  private readonly snapshots = new Map<string, string>();
  private readonly edits: Edit[] = [];

  constructor(
    private readonly options: HistoryOptions = DEFAULT_HISTORY,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Start following a document (its text now is the base of its first edit). */
  open(path: string, text: string): void {
    text = toLF(text);
    if (text.length <= this.options.maxFileChars) this.snapshots.set(path, text);
  }

  /** Stop following a document; its past edits stay in the history. */
  close(path: string): void {
    this.snapshots.delete(path);
  }

  /** The document's text after a change (a change to an unfollowed document starts following it). */
  change(path: string, text: string): void {
    text = toLF(text);
    const before = this.snapshots.get(path);
    if (text.length > this.options.maxFileChars) return this.close(path);
    this.snapshots.set(path, text);
    if (before === undefined || before === text) return;
    const [first, last] = changedLines(before, text);
    const now = this.clock();
    const newest = this.edits.at(-1);
    if (
      newest &&
      newest.path === path &&
      newest.after === before &&
      now - newest.at <= this.options.pauseMs &&
      first <= newest.last + this.options.nearLines &&
      last >= newest.first - this.options.nearLines
    ) {
      newest.after = text;
      newest.first = Math.min(newest.first, first);
      newest.last = Math.max(newest.last, last);
      newest.at = now;
      if (newest.before === text) this.edits.pop(); // typed and undone: no edit at all
      return;
    }
    this.edits.push({ path, before, after: text, first, last, at: now });
    if (this.edits.length > this.options.maxEvents) this.edits.shift();
  }

  /** The events to send, oldest first, within maxBytes (the newest kept). */
  events(): HistoryEvent[] {
    const out: HistoryEvent[] = [];
    let bytes = 0;
    for (let i = this.edits.length - 1; i >= 0; i--) {
      const e = this.edits[i];
      const diff = createPatch(e.path, e.before, e.after, undefined, undefined, { context: 3, headerOptions: FILE_HEADERS_ONLY });
      const size = utf8Length(diff);
      if (bytes + size > this.options.maxBytes) break;
      bytes += size;
      out.push({ path: e.path, diff });
    }
    return out.reverse();
  }

  /** Forget every edit (the documents stay followed). */
  clear(): void {
    this.edits.length = 0;
  }
}

export function toLF(text: string): string {
  return text.includes("\r\n") ? text.replace(/\r\n/g, "\n") : text;
}

/** The first and last line of `after` that differ from `before` (by common prefix and suffix). */
function changedLines(before: string, after: string): [number, number] {
  let start = 0;
  const shortest = Math.min(before.length, after.length);
  while (start < shortest && before[start] === after[start]) start++;
  let end = 0;
  while (end < shortest - start && before[before.length - 1 - end] === after[after.length - 1 - end]) end++;
  const first = countLines(after, start);
  return [first, Math.max(first, countLines(after, after.length - end))];
}

function countLines(text: string, upTo: number): number {
  let n = 0;
  for (let i = text.indexOf("\n"); i !== -1 && i < upTo; i = text.indexOf("\n", i + 1)) n++;
  return n;
}

function utf8Length(s: string): number {
  return new TextEncoder().encode(s).length;
}

/**
 * The playground's completion settings, from its header's controls. Pure, so the
 * unit tests check what the page sends without a browser.
 */

import { CompleterSettings, DEFAULT_DEADLINE_MS, Mode } from "../../common/src/index.js";

/** The largest deadline_ms the server takes; a larger one would be a 400 on every request. */
export const MAX_DEADLINE_MS = 60000;

export interface PlaygroundControls {
  enabled: boolean;
  /** The inputs' text, as the page reads it. */
  debounce: string;
  /** How long the page waits for ghost text (ms): sent as deadline_ms; "0": not sent. */
  deadline: string;
  mode: string;
}

/** An input's milliseconds, or `fallback` when it is empty or not a number; at least 0. */
function ms(text: string, fallback: number): number {
  const n = Number(text.trim());
  return text.trim() === "" || !Number.isFinite(n) ? fallback : Math.max(0, Math.round(n));
}

export function playgroundSettings(c: PlaygroundControls): CompleterSettings {
  return {
    enabled: c.enabled,
    languages: ["*"],
    triggerMode: "automatic",
    debounceMs: ms(c.debounce, 0),
    deadlineMs: Math.min(MAX_DEADLINE_MS, ms(c.deadline, DEFAULT_DEADLINE_MS)),
    maxTokens: 64,
    mode: c.mode as Mode,
  };
}

/**
 * One meaning for "how was this completion asked for", whatever the editor.
 *
 * The editors number their trigger kinds differently, and two of them in
 * opposite order, so a client that passed the number through would debounce
 * exactly the requests the user asked for and skip the debounce on typing:
 *   VS Code  InlineCompletionTriggerKind: Invoke = 0, Automatic = 1
 *   Monaco   InlineCompletionTriggerKind: Automatic = 0, Explicit = 1
 *   LSP      InlineCompletionTriggerKind: Invoked = 1, Automatic = 2
 */

export type Trigger = "automatic" | "explicit";

export function fromVSCode(kind: number): Trigger {
  return kind === 0 ? "explicit" : "automatic";
}

export function fromMonaco(kind: number): Trigger {
  return kind === 1 ? "explicit" : "automatic";
}

export function fromLSP(kind: number): Trigger {
  return kind === 1 ? "explicit" : "automatic";
}

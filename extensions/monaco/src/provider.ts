/**
 * Monaco's side of the shared Completer. Monaco's InlineCompletionTriggerKind
 * is Automatic = 0, Explicit = 1: the reverse of VS Code's (see
 * common/src/triggers.ts). Monaco also says what became of an item
 * (handleEndOfLifetime), so events need no guessing here.
 */

import type * as monaco from "monaco-editor";
import { Completer, EventTracker, Suggestion, TextSource, fromMonaco } from "../../common/src/index.js";
import type { MonacoNextEdits } from "./nextedit.js";

// monaco.languages.InlineCompletionEndOfLifeReasonKind, by value, so that this
// module (and its tests) need not load Monaco itself.
const ACCEPTED = 0;

export function textSource(model: monaco.editor.ITextModel): TextSource {
  return {
    lineCount: model.getLineCount(),
    lineAt: (i) => model.getLineContent(i + 1), // Monaco counts lines from 1
    eol: model.getEOL(),
  };
}

export function signalFor(token: monaco.CancellationToken): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  if (token.isCancellationRequested) controller.abort();
  const sub = token.onCancellationRequested(() => controller.abort());
  return { signal: controller.signal, dispose: () => sub.dispose() };
}

type Item = monaco.languages.InlineCompletion & { codefillId: string };

/** A next edit offered as an inline completion: not a completion, so no completion events for it. */
const NEXT_EDIT_ID = "";

export interface PlaygroundHooks {
  onSuggestion?(s: Suggestion): void;
  onOutcome?(outcome: "shown" | "accepted" | "dismissed", id: string): void;
}

export function createProvider(
  completer: Completer,
  events: EventTracker,
  hooks: PlaygroundHooks = {},
  nextEdits?: Pick<MonacoNextEdits, "inlineItem">,
): monaco.languages.InlineCompletionsProvider<monaco.languages.InlineCompletions<Item>> {
  return {
    displayName: "codefill",
    async provideInlineCompletions(model, position, context, token) {
      if (context.selectedSuggestionInfo) return { items: [] };
      // A next edit on this line, waiting to be shown as ghost text, comes before a new completion.
      const nextEdit = nextEdits?.inlineItem(model, position);
      if (nextEdit) return { items: [{ ...nextEdit, codefillId: NEXT_EDIT_ID }] };
      const { signal, dispose } = signalFor(token);
      try {
        const suggestion = await completer.suggest(
          {
            doc: textSource(model),
            cursor: { line: position.lineNumber - 1, character: position.column - 1 },
            language: model.getLanguageId(),
            filepath: model.uri.path.replace(/^\//, ""),
            trigger: fromMonaco(context.triggerKind),
          },
          signal,
        );
        if (!suggestion || token.isCancellationRequested) return { items: [] };
        hooks.onSuggestion?.(suggestion);
        const at = { startLineNumber: position.lineNumber, startColumn: position.column, endLineNumber: position.lineNumber, endColumn: position.column };
        return { items: [{ insertText: suggestion.text, range: at, codefillId: suggestion.id }] };
      } finally {
        dispose();
      }
    },
    handleItemDidShow(_completions, item) {
      if (item.codefillId === NEXT_EDIT_ID) return;
      events.shown(item.codefillId);
      hooks.onOutcome?.("shown", item.codefillId);
    },
    handleEndOfLifetime(_completions, item, reason) {
      if (item.codefillId === NEXT_EDIT_ID) return;
      if (reason.kind === ACCEPTED) {
        events.accepted(item.codefillId);
        hooks.onOutcome?.("accepted", item.codefillId);
      } else {
        events.dismissed(item.codefillId);
        hooks.onOutcome?.("dismissed", item.codefillId);
      }
    },
    disposeInlineCompletions() {
      // Nothing is held per list: the HTTP request is long finished or aborted.
    },
  };
}

/**
 * VS Code's side of the shared Completer: documents, positions, cancellation
 * tokens and trigger kinds in; InlineCompletionItems out.
 */

import * as vscode from "vscode";
import { Completer, EventTracker, TextSource, fromVSCode } from "../../common/src/index.js";
import type { NextEditPresenter } from "./nextedit.js";

/** The command an item runs when the user accepts it (Tab): the only acceptance signal in the stable API. */
export const ACCEPTED_COMMAND = "codefill.accepted";

export function textSource(doc: vscode.TextDocument): TextSource {
  return {
    lineCount: doc.lineCount,
    lineAt: (i) => doc.lineAt(i).text,
    eol: doc.eol === vscode.EndOfLine.CRLF ? "\r\n" : "\n",
  };
}

/** An AbortSignal that fires when VS Code cancels: that aborts the in-flight HTTP request. */
export function signalFor(token: vscode.CancellationToken): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  if (token.isCancellationRequested) controller.abort();
  const sub = token.onCancellationRequested(() => controller.abort());
  return { signal: controller.signal, dispose: () => sub.dispose() };
}

export class CodefillInlineProvider implements vscode.InlineCompletionItemProvider {
  constructor(
    private readonly completer: Completer,
    private readonly events: EventTracker,
    private readonly nextEdits?: NextEditPresenter,
  ) {}

  async provideInlineCompletionItems(
    document: vscode.TextDocument,
    position: vscode.Position,
    context: vscode.InlineCompletionContext,
    token: vscode.CancellationToken,
  ): Promise<vscode.InlineCompletionItem[]> {
    // The user is choosing from the suggest widget: a ghost text would fight it.
    if (context.selectedCompletionInfo) return [];
    // A next edit on this line, waiting to be shown as ghost text, comes before a new completion.
    const nextEdit = this.nextEdits?.inlineItem(document, position);
    if (nextEdit) return [nextEdit];
    const { signal, dispose } = signalFor(token);
    try {
      const suggestion = await this.completer.suggest(
        {
          doc: textSource(document),
          cursor: { line: position.line, character: position.character },
          language: document.languageId,
          filepath: vscode.workspace.asRelativePath(document.uri, false),
          trigger: fromVSCode(context.triggerKind),
        },
        signal,
      );
      if (!suggestion || token.isCancellationRequested) return [];
      this.events.shown(suggestion.id);
      const item = new vscode.InlineCompletionItem(suggestion.text, new vscode.Range(position, position), {
        title: "codefill: accepted",
        command: ACCEPTED_COMMAND,
        arguments: [suggestion.id],
      });
      return [item];
    } finally {
      dispose();
    }
  }
}

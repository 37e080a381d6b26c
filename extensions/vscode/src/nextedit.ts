/**
 * Next edits in VS Code, with the stable API only (the inline-edit API is
 * proposed, so a published extension cannot use it):
 *  - an edit that inserts at or after the cursor on its line is offered as an
 *    inline completion item with a range (ghost text, Tab accepts);
 *  - any other edit is drawn where it is: the replaced text struck through,
 *    the new text after it, an arrow in the gutter and a mark in the overview
 *    ruler. The context key `codefill.nextEditVisible` turns on two
 *    keybindings: Tab jumps there and applies it, Esc dismisses it.
 * Every change of a document feeds the edit history; a change in the active
 * editor asks for the next edit (debounced; the next change aborts it).
 */

import * as vscode from "vscode";
import { EditHistory, NextEditSuggestion, NextEditor, endOfEdit, hoverOf, previewOf } from "../../common/src/index.js";

export const NEXT_EDIT_CONTEXT = "codefill.nextEditVisible";
export const ACCEPT_NEXT_EDIT = "codefill.acceptNextEdit";
export const DISMISS_NEXT_EDIT = "codefill.dismissNextEdit";

// A right arrow: "the next edit is here".
const GUTTER_ICON =
  "data:image/svg+xml;utf8," +
  encodeURIComponent('<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16"><path d="M2 7h8V4l5 4-5 4V9H2z" fill="#3794ff"/></svg>');

/** Documents worth following: files and unsaved buffers, not output panels or git views. */
export function followed(doc: vscode.TextDocument): boolean {
  return doc.uri.scheme === "file" || doc.uri.scheme === "untitled";
}

export function pathOf(doc: vscode.TextDocument): string {
  return vscode.workspace.asRelativePath(doc.uri, false);
}

function range(r: { start: { line: number; character: number }; end: { line: number; character: number } }): vscode.Range {
  return new vscode.Range(new vscode.Position(r.start.line, r.start.character), new vscode.Position(r.end.line, r.end.character));
}

interface Shown {
  editor: vscode.TextEditor;
  version: number;
  suggestion: NextEditSuggestion;
}

export class NextEditPresenter implements vscode.Disposable {
  private readonly replaced = vscode.window.createTextEditorDecorationType({
    backgroundColor: new vscode.ThemeColor("diffEditor.removedTextBackground"),
    textDecoration: "line-through",
  });
  private readonly proposal = vscode.window.createTextEditorDecorationType({
    gutterIconPath: vscode.Uri.parse(GUTTER_ICON),
    gutterIconSize: "contain",
    overviewRulerColor: new vscode.ThemeColor("editorOverviewRuler.modifiedForeground"),
    overviewRulerLane: vscode.OverviewRulerLane.Right,
  });
  /** The edit drawn as a jump, if any. */
  shown: Shown | undefined;
  /** The edit waiting for VS Code to ask the inline provider (same line). */
  private inline: Shown | undefined;
  private inflight: AbortController | undefined;

  constructor(private readonly nextEditor: NextEditor) {}

  get history(): EditHistory {
    return this.nextEditor.history;
  }

  opened(doc: vscode.TextDocument): void {
    if (followed(doc)) this.history.open(pathOf(doc), doc.getText());
  }

  closed(doc: vscode.TextDocument): void {
    this.history.close(pathOf(doc));
  }

  /** A document changed: record it, drop what was shown for the old text, ask again for the active editor. */
  changed(doc: vscode.TextDocument): Promise<void> {
    if (!followed(doc)) return Promise.resolve();
    this.history.change(pathOf(doc), doc.getText());
    if (this.shown?.editor.document === doc) this.dismiss();
    const editor = vscode.window.activeTextEditor;
    return editor?.document === doc ? this.ask(editor) : Promise.resolve();
  }

  /** Ask for the next edit at the editor's cursor and show it. */
  async ask(editor: vscode.TextEditor): Promise<void> {
    this.inflight?.abort();
    const controller = (this.inflight = new AbortController());
    const doc = editor.document;
    let version = doc.version;
    const suggestion = await this.nextEditor.suggest(() => {
      version = doc.version;
      const cursor = editor.selection.active;
      return { path: pathOf(doc), language: doc.languageId, text: doc.getText(), cursor: { line: cursor.line, character: cursor.character } };
    }, controller.signal);
    if (!suggestion || controller.signal.aborted || doc.version !== version) return;
    if (suggestion.inline) {
      this.inline = { editor, version, suggestion };
      await vscode.commands.executeCommand("editor.action.inlineSuggest.trigger");
    } else {
      this.show({ editor, version, suggestion });
    }
  }

  /** For the inline provider: the pending same-line next edit at `position`, as an item. */
  inlineItem(doc: vscode.TextDocument, position: vscode.Position): vscode.InlineCompletionItem | undefined {
    const pending = this.inline;
    const inline = pending?.suggestion.inline;
    if (!pending || !inline || pending.editor.document !== doc || pending.version !== doc.version) return undefined;
    if (inline.range.start.line !== position.line || inline.range.start.character !== position.character) return undefined;
    return new vscode.InlineCompletionItem(inline.insertText, range(inline.range));
  }

  private show(shown: Shown): void {
    this.dismiss();
    this.shown = shown;
    const { edit } = shown.suggestion;
    const at = range(edit.range);
    const preview = previewOf(edit.text);
    shown.editor.setDecorations(this.replaced, at.isEmpty ? [] : [at]);
    shown.editor.setDecorations(this.proposal, [
      {
        range: new vscode.Range(at.end, at.end),
        hoverMessage: new vscode.MarkdownString(hoverOf(edit.text)),
        renderOptions: {
          after: {
            contentText: preview ? ` ${preview} ` : " ⌫ ",
            color: new vscode.ThemeColor("editorGhostText.foreground"),
            backgroundColor: new vscode.ThemeColor("diffEditor.insertedTextBackground"),
            fontStyle: "italic",
          },
        },
      },
    ]);
    void vscode.commands.executeCommand("setContext", NEXT_EDIT_CONTEXT, true);
  }

  /** Tab: apply the shown edit, put the cursor at its end and scroll there. */
  async accept(): Promise<boolean> {
    const shown = this.shown;
    if (!shown) return false;
    this.dismiss();
    const { editor, suggestion } = shown;
    if (editor.document.version !== shown.version) return false;
    const at = range(suggestion.edit.range);
    const applied = await editor.edit((b) => b.replace(at, suggestion.edit.text));
    if (!applied) return false;
    const end = endOfEdit(suggestion.edit);
    const cursor = new vscode.Position(end.line, end.character);
    editor.selection = new vscode.Selection(cursor, cursor);
    editor.revealRange(new vscode.Range(cursor, cursor), vscode.TextEditorRevealType.InCenterIfOutsideViewport);
    return true;
  }

  /** Esc (or a change): hide the shown edit. */
  dismiss(): void {
    if (!this.shown) return;
    this.shown.editor.setDecorations(this.replaced, []);
    this.shown.editor.setDecorations(this.proposal, []);
    this.shown = undefined;
    void vscode.commands.executeCommand("setContext", NEXT_EDIT_CONTEXT, false);
  }

  dispose(): void {
    this.inflight?.abort();
    this.dismiss();
    this.replaced.dispose();
    this.proposal.dispose();
  }
}

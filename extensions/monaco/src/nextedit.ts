/**
 * Next edits in the playground, as in VS Code: an edit that inserts at or
 * after the cursor on its line is offered to Monaco's inline completions
 * (ghost text with a range); any other is drawn where it is (the replaced
 * text struck through, an arrow in the glyph margin, the new text in a
 * box at the end of the line: Monaco's standalone editor here does not draw
 * a decoration's injected `after` text),
 * and while it is shown Tab jumps there and applies it, Esc dismisses it.
 * Monaco counts lines and columns from 1; the shared code from 0.
 */

import type * as monaco from "monaco-editor";
import { NEXT_EDIT_HINT, NextEditSuggestion, NextEditor, TextRange, endOfEdit, hoverOf, previewOf } from "../../common/src/index.js";

export const NEXT_EDIT_CONTEXT = "codefillNextEditVisible";

export function toMonacoRange(r: TextRange): monaco.IRange {
  return { startLineNumber: r.start.line + 1, startColumn: r.start.character + 1, endLineNumber: r.end.line + 1, endColumn: r.end.character + 1 };
}

export function modelPath(model: monaco.editor.ITextModel): string {
  return model.uri.path.replace(/^\//, "");
}

/** What this needs of Monaco's editor (an interface, so tests can give a fake). */
export type NextEditEditor = Pick<
  monaco.editor.IStandaloneCodeEditor,
  "getModel" | "getPosition" | "setPosition" | "createDecorationsCollection" | "addContentWidget" | "removeContentWidget" | "createContextKey" | "addCommand" | "executeEdits" | "revealPositionInCenterIfOutsideViewport" | "trigger" | "onDidChangeModel" | "onDidChangeModelContent"
>;

// monaco.KeyCode and ContentWidgetPositionPreference values, so that this module (and its tests) need not load Monaco.
const TAB = 2;
const ESCAPE = 9;
const EXACT = 0;

/** The new text, in a box after the end of the edit's last line. */
class ProposalWidget implements monaco.editor.IContentWidget {
  private node: HTMLElement | undefined;
  constructor(
    readonly text: string,
    private readonly at: monaco.IPosition,
  ) {}
  getId() {
    return "codefill.nextEdit";
  }
  getDomNode() {
    if (!this.node) {
      this.node = document.createElement("span");
      this.node.className = "codefill-next-edit-new";
      this.node.textContent = this.text;
      this.node.title = NEXT_EDIT_HINT;
    }
    return this.node;
  }
  getPosition() {
    return { position: this.at, preference: [EXACT] };
  }
}

interface Shown {
  model: monaco.editor.ITextModel;
  version: number;
  suggestion: NextEditSuggestion;
}

export interface NextEditHooks {
  onShown?(s: NextEditSuggestion, how: "inline" | "jump"): void;
  onOutcome?(outcome: "accepted" | "dismissed"): void;
}

export class MonacoNextEdits {
  private readonly decorations: monaco.editor.IEditorDecorationsCollection;
  private readonly visible: monaco.editor.IContextKey<boolean>;
  shown: Shown | undefined;
  private inline: Shown | undefined;
  private inflight: AbortController | undefined;
  /** The box with the new text, while one is shown. */
  widget: ProposalWidget | undefined;

  constructor(
    private readonly editor: NextEditEditor,
    private readonly nextEditor: NextEditor,
    private readonly hooks: NextEditHooks = {},
  ) {
    this.decorations = editor.createDecorationsCollection();
    this.visible = editor.createContextKey(NEXT_EDIT_CONTEXT, false);
    // Ghost text first: while it is shown, Tab and Esc are Monaco's.
    editor.addCommand(TAB, () => void this.accept(), `${NEXT_EDIT_CONTEXT} && !inlineSuggestionVisible`);
    editor.addCommand(ESCAPE, () => this.dismiss(), `${NEXT_EDIT_CONTEXT} && !inlineSuggestionVisible`);
    const follow = () => {
      const model = editor.getModel();
      if (model) this.nextEditor.history.open(modelPath(model), model.getValue());
    };
    follow();
    editor.onDidChangeModel(follow);
    editor.onDidChangeModelContent(() => void this.changed());
  }

  /** The text changed: record it, drop what was shown, ask for the next edit. */
  changed(): Promise<void> {
    const model = this.editor.getModel();
    if (!model) return Promise.resolve();
    this.nextEditor.history.change(modelPath(model), model.getValue());
    this.dismiss(false);
    return this.ask();
  }

  async ask(): Promise<void> {
    this.inflight?.abort();
    const controller = (this.inflight = new AbortController());
    const model = this.editor.getModel();
    if (!model) return;
    let version = model.getVersionId();
    const suggestion = await this.nextEditor.suggest(() => {
      const position = this.editor.getPosition();
      if (!position || this.editor.getModel() !== model) return null;
      version = model.getVersionId();
      return { path: modelPath(model), language: model.getLanguageId(), text: model.getValue(), cursor: { line: position.lineNumber - 1, character: position.column - 1 } };
    }, controller.signal);
    if (!suggestion || controller.signal.aborted || model.getVersionId() !== version || this.editor.getModel() !== model) return;
    if (suggestion.inline) {
      this.inline = { model, version, suggestion };
      this.hooks.onShown?.(suggestion, "inline");
      this.editor.trigger("codefill", "editor.action.inlineSuggest.trigger", {});
    } else {
      this.show({ model, version, suggestion });
    }
  }

  /** For the inline provider: the pending same-line next edit at `position`. */
  inlineItem(model: monaco.editor.ITextModel, position: monaco.IPosition): { insertText: string; range: monaco.IRange } | undefined {
    const pending = this.inline;
    const inline = pending?.suggestion.inline;
    if (!pending || !inline || pending.model !== model || pending.version !== model.getVersionId()) return undefined;
    if (inline.range.start.line !== position.lineNumber - 1 || inline.range.start.character !== position.column - 1) return undefined;
    return { insertText: inline.insertText, range: toMonacoRange(inline.range) };
  }

  private show(shown: Shown): void {
    this.shown = shown;
    const { edit } = shown.suggestion;
    const range = toMonacoRange(edit.range);
    const preview = previewOf(edit.text);
    const hint = { value: hoverOf(edit.text) };
    const empty = range.startLineNumber === range.endLineNumber && range.startColumn === range.endColumn;
    this.decorations.set([
      ...(empty ? [] : [{ range, options: { inlineClassName: "codefill-next-edit-replaced", hoverMessage: hint } }]),
      {
        range: { startLineNumber: range.endLineNumber, startColumn: range.endColumn, endLineNumber: range.endLineNumber, endColumn: range.endColumn },
        options: { glyphMarginClassName: "codefill-next-edit-arrow", glyphMarginHoverMessage: hint, overviewRuler: { color: "#3794ff", position: 4 /* Right */ } },
      },
    ]);
    const lineEnd = { lineNumber: range.endLineNumber, column: shown.model.getLineMaxColumn(range.endLineNumber) };
    this.widget = new ProposalWidget(`→ ${preview || "⌫ delete"}`, lineEnd);
    this.editor.addContentWidget(this.widget);
    this.visible.set(true);
    this.hooks.onShown?.(shown.suggestion, "jump");
  }

  /** Tab: apply the shown edit, put the cursor at its end and scroll there. */
  accept(): boolean {
    const shown = this.shown;
    if (!shown) return false;
    this.dismiss(false);
    if (this.editor.getModel() !== shown.model || shown.model.getVersionId() !== shown.version) return false;
    const { edit } = shown.suggestion;
    const end = endOfEdit(edit);
    const cursor = { lineNumber: end.line + 1, column: end.character + 1 };
    this.editor.executeEdits("codefill-next-edit", [{ range: toMonacoRange(edit.range), text: edit.text, forceMoveMarkers: true }]);
    this.editor.setPosition(cursor);
    this.editor.revealPositionInCenterIfOutsideViewport(cursor);
    this.hooks.onOutcome?.("accepted");
    return true;
  }

  /** Esc (or a change): hide the shown edit. */
  dismiss(byUser = true): void {
    if (!this.shown) return;
    this.shown = undefined;
    this.decorations.clear();
    if (this.widget) this.editor.removeContentWidget(this.widget);
    this.widget = undefined;
    this.visible.set(false);
    if (byUser) this.hooks.onOutcome?.("dismissed");
  }
}

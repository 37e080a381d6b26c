/**
 * The parts of the `vscode` module the extension uses, with the same
 * behaviour where it matters (enum values, cancellation, configuration
 * updates firing change events), and handles for tests to inspect.
 * Aliased as `vscode` in vitest.config.ts.
 */

type Listener<T> = (e: T) => void;

export class EventEmitter<T> {
  private listeners = new Set<Listener<T>>();
  event = (listener: Listener<T>) => {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  };
  fire(e: T) {
    for (const l of [...this.listeners]) l(e);
  }
  dispose() {
    this.listeners.clear();
  }
}

export class CancellationTokenSource {
  private emitter = new EventEmitter<void>();
  token = {
    isCancellationRequested: false,
    onCancellationRequested: this.emitter.event,
  };
  cancel() {
    if (this.token.isCancellationRequested) return;
    this.token.isCancellationRequested = true;
    this.emitter.fire();
  }
  dispose() {}
}

export class Position {
  constructor(
    readonly line: number,
    readonly character: number,
  ) {}
}

export class Range {
  constructor(
    readonly start: Position,
    readonly end: Position,
  ) {}
  get isEmpty() {
    return this.start.line === this.end.line && this.start.character === this.end.character;
  }
}

export class Selection extends Range {
  constructor(
    readonly anchor: Position,
    readonly active: Position,
  ) {
    super(anchor, active);
  }
}

export class MarkdownString {
  constructor(readonly value: string) {}
}

export class InlineCompletionItem {
  constructor(
    public insertText: string,
    public range?: Range,
    public command?: { title: string; command: string; arguments?: unknown[] },
  ) {}
}

// The real numbering (vscode.d.ts), one line each. InlineCompletionTriggerKind: Invoke = 0, Automatic = 1.
export enum InlineCompletionTriggerKind { Invoke = 0, Automatic = 1 } // prettier-ignore
export enum EndOfLine { LF = 1, CRLF = 2 } // prettier-ignore
export enum StatusBarAlignment { Left = 1, Right = 2 } // prettier-ignore
export enum ConfigurationTarget { Global = 1, Workspace = 2, WorkspaceFolder = 3 } // prettier-ignore
export enum OverviewRulerLane { Left = 1, Center = 2, Right = 4, Full = 7 } // prettier-ignore
export enum TextEditorRevealType { Default = 0, InCenter = 1, InCenterIfOutsideViewport = 2, AtTop = 3 } // prettier-ignore

export class ThemeColor {
  constructor(readonly id: string) {}
}

export const Uri = {
  file: (path: string) => ({ scheme: "file", fsPath: path, path, toString: () => `file://${path}` }),
  parse: (value: string) => ({ scheme: value.slice(0, value.indexOf(":")), fsPath: "", path: "", toString: () => value }),
};

// ---- state the tests look at -------------------------------------------------

export const fake = {
  config: new Map<string, unknown>(),
  commands: new Map<string, (...args: any[]) => any>(),
  executed: [] as { command: string; args: unknown[] }[],
  providers: [] as { selector: unknown; provider: any }[],
  statusItems: [] as any[],
  inputBoxAnswer: undefined as string | undefined,
  configChanged: new EventEmitter<{ affectsConfiguration(section: string): boolean }>(),
  /** setContext keys (when-clause context) as the extension set them. */
  context: new Map<string, unknown>(),
  decorationTypes: [] as { options: any; disposed: boolean }[],
  documents: [] as FakeDocument[],
  activeEditor: undefined as FakeEditor | undefined,
  opened: new EventEmitter<FakeDocument>(),
  closed: new EventEmitter<FakeDocument>(),
  changed: new EventEmitter<{ document: FakeDocument; contentChanges: unknown[] }>(),
  reset() {
    // Extensions activated by earlier tests stop hearing about documents.
    for (const e of [this.opened, this.closed, this.changed]) e.dispose();
    this.context.clear();
    this.decorationTypes.length = 0;
    this.documents.length = 0;
    this.activeEditor = undefined;
    this.config.clear();
    this.commands.clear();
    this.executed.length = 0;
    this.providers.length = 0;
    this.statusItems.length = 0;
    this.inputBoxAnswer = undefined;
  },
};

export const window = {
  get activeTextEditor() {
    return fake.activeEditor;
  },
  createTextEditorDecorationType(options: unknown) {
    const type = { options, disposed: false, dispose: () => (type.disposed = true) };
    fake.decorationTypes.push(type);
    return type;
  },
  createStatusBarItem(alignment: StatusBarAlignment, priority: number) {
    const item = {
      alignment,
      priority,
      text: "",
      tooltip: "",
      command: undefined as string | undefined,
      name: "",
      backgroundColor: undefined as ThemeColor | undefined,
      visible: false,
      show() {
        item.visible = true;
      },
      hide() {
        item.visible = false;
      },
      dispose() {
        item.visible = false;
      },
    };
    fake.statusItems.push(item);
    return item;
  },
  async showInputBox(_options: unknown) {
    return fake.inputBoxAnswer;
  },
};

export const workspace = {
  getConfiguration(section: string) {
    return {
      get<T>(key: string, fallback?: T): T {
        const k = `${section}.${key}`;
        return (fake.config.has(k) ? fake.config.get(k) : fallback) as T;
      },
      async update(key: string, value: unknown, _target?: ConfigurationTarget) {
        const k = `${section}.${key}`;
        fake.config.set(k, value);
        fake.configChanged.fire({ affectsConfiguration: (s: string) => k === s || k.startsWith(s + ".") });
      },
    };
  },
  onDidChangeConfiguration: (l: Listener<{ affectsConfiguration(section: string): boolean }>) => fake.configChanged.event(l),
  get textDocuments() {
    return fake.documents;
  },
  onDidOpenTextDocument: (l: Listener<FakeDocument>) => fake.opened.event(l),
  onDidCloseTextDocument: (l: Listener<FakeDocument>) => fake.closed.event(l),
  onDidChangeTextDocument: (l: Listener<{ document: FakeDocument; contentChanges: unknown[] }>) => fake.changed.event(l),
  asRelativePath(uri: { fsPath: string }, _includeFolder?: boolean) {
    return uri.fsPath.replace(/^\/workspace\//, "");
  },
};

export const languages = {
  registerInlineCompletionItemProvider(selector: unknown, provider: unknown) {
    const entry = { selector, provider };
    fake.providers.push(entry);
    return { dispose: () => fake.providers.splice(fake.providers.indexOf(entry), 1) };
  },
};

export const commands = {
  registerCommand(command: string, callback: (...args: any[]) => any) {
    if (fake.commands.has(command)) throw new Error(`command '${command}' already exists`);
    fake.commands.set(command, callback);
    return { dispose: () => fake.commands.delete(command) };
  },
  async executeCommand(command: string, ...args: unknown[]) {
    fake.executed.push({ command, args });
    if (command === "setContext") fake.context.set(args[0] as string, args[1]);
    return fake.commands.get(command)?.(...args);
  },
};

/** A TextDocument over a string; setText changes it as an edit would (new version, change event). */
export function document(text: string, languageId = "python", path = "/workspace/src/main.py") {
  let lines = text.split(/\r?\n/);
  const doc = {
    uri: Uri.file(path),
    languageId,
    version: 1,
    eol: text.includes("\r\n") ? EndOfLine.CRLF : EndOfLine.LF,
    get lineCount() {
      return lines.length;
    },
    lineAt: (i: number) => ({ text: lines[i] }),
    getText: () => text,
    setText(next: string) {
      text = next;
      lines = next.split(/\r?\n/);
      doc.version++;
      fake.changed.fire({ document: doc, contentChanges: [{}] });
    },
  };
  return doc;
}
export type FakeDocument = ReturnType<typeof document>;

/** A TextEditor on `doc` with the cursor at `cursor`, made the active one; it records its decorations. */
export function editor(doc: FakeDocument, cursor: Position) {
  const lineStarts = () => {
    const starts = [0];
    for (let i = 0; i < doc.getText().length; i++) if (doc.getText()[i] === "\n") starts.push(i + 1);
    return starts;
  };
  const offset = (p: Position) => lineStarts()[p.line] + p.character;
  const ed = {
    document: doc,
    selection: new Selection(cursor, cursor),
    decorations: new Map<unknown, any[]>(),
    revealed: [] as Range[],
    setDecorations(type: unknown, ranges: any[]) {
      ed.decorations.set(type, ranges);
    },
    async edit(build: (b: { replace(r: Range, text: string): void }) => void) {
      const edits: [Range, string][] = [];
      build({ replace: (r, t) => edits.push([r, t]) });
      let text = doc.getText();
      for (const [r, t] of edits.reverse()) text = text.slice(0, offset(r.start)) + t + text.slice(offset(r.end));
      doc.setText(text);
      return true;
    },
    revealRange(r: Range) {
      ed.revealed.push(r);
    },
    /** The decorations drawn now, by type, skipping empty ones. */
    drawn() {
      return [...ed.decorations.values()].filter((d) => d.length).flat();
    },
  };
  fake.activeEditor = ed as FakeEditor;
  return ed;
}
export type FakeEditor = ReturnType<typeof editor>;

/** An ExtensionContext with a SecretStorage kept in memory. */
export function extensionContext() {
  const secrets = new Map<string, string>();
  const changed = new EventEmitter<{ key: string }>();
  return {
    subscriptions: [] as { dispose(): unknown }[],
    secrets: {
      get: async (k: string) => secrets.get(k),
      store: async (k: string, v: string) => {
        secrets.set(k, v);
        changed.fire({ key: k });
      },
      delete: async (k: string) => {
        secrets.delete(k);
        changed.fire({ key: k });
      },
      onDidChange: changed.event,
    },
    stored: secrets,
  };
}

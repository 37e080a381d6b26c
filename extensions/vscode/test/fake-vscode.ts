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
}

export class InlineCompletionItem {
  constructor(
    public insertText: string,
    public range?: Range,
    public command?: { title: string; command: string; arguments?: unknown[] },
  ) {}
}

// The real numbering (vscode.d.ts): Invoke = 0, Automatic = 1.
export enum InlineCompletionTriggerKind {
  Invoke = 0,
  Automatic = 1,
}

export enum EndOfLine {
  LF = 1,
  CRLF = 2,
}

export enum StatusBarAlignment {
  Left = 1,
  Right = 2,
}

export enum ConfigurationTarget {
  Global = 1,
  Workspace = 2,
  WorkspaceFolder = 3,
}

export class ThemeColor {
  constructor(readonly id: string) {}
}

export const Uri = {
  file: (path: string) => ({ scheme: "file", fsPath: path, path, toString: () => `file://${path}` }),
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
  reset() {
    this.config.clear();
    this.commands.clear();
    this.executed.length = 0;
    this.providers.length = 0;
    this.statusItems.length = 0;
    this.inputBoxAnswer = undefined;
  },
};

export const window = {
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
    return fake.commands.get(command)?.(...args);
  },
};

/** A TextDocument over a string. */
export function document(text: string, languageId = "python", path = "/workspace/src/main.py") {
  const lines = text.split(/\r?\n/);
  return {
    uri: Uri.file(path),
    languageId,
    lineCount: lines.length,
    eol: text.includes("\r\n") ? EndOfLine.CRLF : EndOfLine.LF,
    lineAt: (i: number) => ({ text: lines[i] }),
    getText: () => text,
  };
}

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

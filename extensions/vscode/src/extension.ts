/** Wiring: settings, secret API key, status bar, commands, the provider and next edits. */

import * as vscode from "vscode";
import { CodefillClient, Completer, EditHistory, EventTracker, NextEditor, newSessionId } from "../../common/src/index.js";
import { ACCEPT_NEXT_EDIT, DISMISS_NEXT_EDIT, NextEditPresenter } from "./nextedit.js";
import { ACCEPTED_COMMAND, CodefillInlineProvider } from "./provider.js";
import { API_KEY_SECRET, ExtensionSettings, SECTION, readSettings } from "./settings.js";
import { StatusBar } from "./status.js";

export interface Activated {
  completer: Completer;
  client: () => CodefillClient;
  status: StatusBar;
  events: EventTracker;
  nextEdits: NextEditPresenter;
}

export function activate(context: vscode.ExtensionContext): Activated {
  const status = new StatusBar("codefill.toggle");
  let apiKey: string | undefined;
  const loadKey = async () => (apiKey = (await context.secrets.get(API_KEY_SECRET)) || undefined);
  void loadKey();

  // One client per server URL / events setting, so its cached model id stays valid
  // (a changed setting makes a new one; the few old ones are dropped now and then).
  const clients = new Map<string, CodefillClient>();
  const clientFor = (serverUrl: string, reportEvents: boolean) => {
    const key = `${serverUrl}|${reportEvents}`;
    let client = clients.get(key);
    if (!client) {
      if (clients.size >= 4) clients.clear();
      client = new CodefillClient({ baseUrl: serverUrl, apiKey: () => apiKey, reportEvents });
      clients.set(key, client);
    }
    return client;
  };
  const getClient = () => {
    const s = readSettings();
    return clientFor(s.serverUrl, s.reportEvents);
  };
  // Next edits may come from another server (one serving a next-edit model).
  const nextEditClient = () => {
    const s = readSettings();
    return s.nextEdits.serverUrl === s.serverUrl ? getClient() : clientFor(s.nextEdits.serverUrl, false);
  };

  const events = new EventTracker((event, id) => void getClient().sendEvent(event, id));
  const session = newSessionId();
  const completer = new Completer(getClient, readSettings, session, (s, detail) => status.set(s, detail));
  // Turning completions off turns next edits off too; codefill.enabledLanguages applies to both.
  const nextEditSettings = () => {
    const s = readSettings();
    return { ...s.nextEdits, enabled: s.enabled && s.nextEdits.enabled, languages: s.languages };
  };
  const nextEdits = new NextEditPresenter(
    new NextEditor(nextEditClient, nextEditSettings, new EditHistory(), session, (s, detail) => status.set(s, detail)),
  );
  vscode.workspace.textDocuments.forEach((doc) => nextEdits.opened(doc));
  const showEnabled = (s: ExtensionSettings) => status.set(s.enabled ? "ready" : "off");
  showEnabled(readSettings());

  const setEnabled = (on: boolean) =>
    vscode.workspace.getConfiguration(SECTION).update("enabled", on, vscode.ConfigurationTarget.Global);

  context.subscriptions.push(
    status,
    vscode.languages.registerInlineCompletionItemProvider({ pattern: "**" }, new CodefillInlineProvider(completer, events, nextEdits)),
    nextEdits,
    vscode.workspace.onDidOpenTextDocument((doc) => nextEdits.opened(doc)),
    vscode.workspace.onDidCloseTextDocument((doc) => nextEdits.closed(doc)),
    vscode.workspace.onDidChangeTextDocument((e) => {
      if (e.contentChanges.length) void nextEdits.changed(e.document);
    }),
    vscode.commands.registerCommand(ACCEPT_NEXT_EDIT, () => nextEdits.accept()),
    vscode.commands.registerCommand(DISMISS_NEXT_EDIT, () => nextEdits.dismiss()),
    vscode.commands.registerCommand("codefill.toggle", () => setEnabled(!readSettings().enabled)),
    vscode.commands.registerCommand("codefill.enable", () => setEnabled(true)),
    vscode.commands.registerCommand("codefill.disable", () => setEnabled(false)),
    vscode.commands.registerCommand("codefill.trigger", () => vscode.commands.executeCommand("editor.action.inlineSuggest.trigger")),
    vscode.commands.registerCommand(ACCEPTED_COMMAND, (id: string) => events.accepted(id)),
    vscode.commands.registerCommand("codefill.setApiKey", async () => {
      const value = await vscode.window.showInputBox({
        title: "codefill API key",
        prompt: "Sent as 'Authorization: Bearer <key>'. Kept in VS Code's secret storage.",
        password: true,
        ignoreFocusOut: true,
      });
      if (value === undefined) return;
      await context.secrets.store(API_KEY_SECRET, value.trim());
    }),
    vscode.commands.registerCommand("codefill.clearApiKey", () => context.secrets.delete(API_KEY_SECRET)),
    context.secrets.onDidChange((e) => {
      if (e.key === API_KEY_SECRET) void loadKey();
    }),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration(SECTION)) showEnabled(readSettings());
    }),
  );
  return { completer, client: getClient, status, events, nextEdits };
}

export function deactivate(): void {
  // Everything is in context.subscriptions.
}

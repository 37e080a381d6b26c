/** Wiring: settings, secret API key, status bar, commands, and the provider. */

import * as vscode from "vscode";
import { CodefillClient, Completer, EventTracker, newSessionId } from "../../common/src/index.js";
import { ACCEPTED_COMMAND, CodefillInlineProvider } from "./provider.js";
import { API_KEY_SECRET, ExtensionSettings, SECTION, readSettings } from "./settings.js";
import { StatusBar } from "./status.js";

export interface Activated {
  completer: Completer;
  client: () => CodefillClient;
  status: StatusBar;
  events: EventTracker;
}

export function activate(context: vscode.ExtensionContext): Activated {
  const status = new StatusBar("codefill.toggle");
  let apiKey: string | undefined;
  const loadKey = async () => (apiKey = (await context.secrets.get(API_KEY_SECRET)) || undefined);
  void loadKey();

  // One client per server URL / events setting, so its cached model id stays valid.
  let client: CodefillClient | undefined;
  let clientFor = "";
  const getClient = () => {
    const s = readSettings();
    const key = `${s.serverUrl}|${s.reportEvents}`;
    if (!client || key !== clientFor) {
      client = new CodefillClient({ baseUrl: s.serverUrl, apiKey: () => apiKey, reportEvents: s.reportEvents });
      clientFor = key;
    }
    return client;
  };

  const events = new EventTracker((event, id) => void getClient().sendEvent(event, id));
  const completer = new Completer(getClient, readSettings, newSessionId(), (s, detail) => status.set(s, detail));
  const showEnabled = (s: ExtensionSettings) => status.set(s.enabled ? "ready" : "off");
  showEnabled(readSettings());

  const setEnabled = (on: boolean) =>
    vscode.workspace.getConfiguration(SECTION).update("enabled", on, vscode.ConfigurationTarget.Global);

  context.subscriptions.push(
    status,
    vscode.languages.registerInlineCompletionItemProvider({ pattern: "**" }, new CodefillInlineProvider(completer, events)),
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
  return { completer, client: getClient, status, events };
}

export function deactivate(): void {
  // Everything is in context.subscriptions.
}

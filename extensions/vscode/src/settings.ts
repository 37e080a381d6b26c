/** The `codefill.*` settings, read fresh for every request so changes apply at once. */

import * as vscode from "vscode";
import { DEFAULT_DEADLINE_MS } from "../../common/src/index.js";
import type { CompleterSettings, Mode, NextEditSettings, TriggerMode } from "../../common/src/index.js";

export const SECTION = "codefill";
/** The SecretStorage key of the API key (never in settings.json, which is often committed). */
export const API_KEY_SECRET = "codefill.apiKey";

export interface ExtensionSettings extends CompleterSettings {
  serverUrl: string;
  reportEvents: boolean;
  nextEdits: NextEditSettings & { serverUrl: string };
}

export function readSettings(config: vscode.WorkspaceConfiguration = vscode.workspace.getConfiguration(SECTION)): ExtensionSettings {
  return {
    enabled: config.get<boolean>("enabled", true),
    serverUrl: config.get<string>("serverUrl", "http://127.0.0.1:8000"),
    model: config.get<string>("model", "") || undefined,
    languages: config.get<string[]>("enabledLanguages", ["*"]),
    triggerMode: config.get<TriggerMode>("triggerMode", "automatic"),
    debounceMs: Math.max(0, config.get<number>("debounceMs", 150)),
    // The server refuses a deadline_ms over 60000 (a 400 on every request): clamp, as the manifest says.
    deadlineMs: Math.min(60000, Math.max(0, config.get<number>("deadlineMs", DEFAULT_DEADLINE_MS))),
    mode: config.get<Mode>("completionMode", "auto"),
    maxTokens: Math.max(1, config.get<number>("maxTokens", 128)),
    reportEvents: config.get<boolean>("reportEvents", true),
    nextEdits: {
      enabled: config.get<boolean>("nextEdits", true),
      debounceMs: Math.max(0, config.get<number>("nextEditDelayMs", 300)),
      model: config.get<string>("nextEditModel", "") || config.get<string>("model", "") || undefined,
      serverUrl: config.get<string>("nextEditServerUrl", "").trim() || config.get<string>("serverUrl", "http://127.0.0.1:8000"),
    },
  };
}

/** The status bar item: ready / thinking / error / off. A click toggles completions. */

import * as vscode from "vscode";
import type { Status } from "../../common/src/index.js";

const LOOK: Record<Status, { text: string; tooltip: string }> = {
  ready: { text: "$(sparkle) codefill", tooltip: "codefill: ready. Click to turn inline completions off." },
  thinking: { text: "$(loading~spin) codefill", tooltip: "codefill: asking the server..." },
  error: { text: "$(error) codefill", tooltip: "codefill: the last request failed" },
  off: { text: "$(circle-slash) codefill", tooltip: "codefill: off. Click to turn inline completions on." },
};

export class StatusBar implements vscode.Disposable {
  readonly item: vscode.StatusBarItem;
  status: Status = "ready";

  constructor(toggleCommand: string) {
    this.item = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Right, 100);
    this.item.command = toggleCommand;
    this.item.name = "codefill";
    this.set("ready");
    this.item.show();
  }

  set(status: Status, detail?: string): void {
    this.status = status;
    this.item.text = LOOK[status].text;
    this.item.tooltip = status === "error" && detail ? `codefill: ${detail}` : LOOK[status].tooltip;
    this.item.backgroundColor = status === "error" ? new vscode.ThemeColor("statusBarItem.errorBackground") : undefined;
  }

  dispose(): void {
    this.item.dispose();
  }
}

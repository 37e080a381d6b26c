// Manual check of the packaged extension in a real VS Code build (npm's code-server),
// driven in Debian's chromium. Not part of `make test`: code-server's install needs
// native builds and a ripgrep binary (see docs/CLIENTS.md, "A real VS Code").
//
//   node test/real/code-server-e2e.mjs CODE_SERVER_URL WORKSPACE_FILE SCREENSHOT
// The workspace file is opened, the cursor put at its end, "return" typed; then the
// ghost text must appear, Tab must accept it, and the codefill status item must be shown.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const [url, file, screenshot = "code-server.png"] = process.argv.slice(2);
const profile = mkdtempSync(join(tmpdir(), "codefill-cs-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  headless: true,
  viewport: { width: 1280, height: 800 },
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-quic", "--no-first-run", "--disable-sync"],
});
try {
  const page = context.pages()[0] ?? (await context.newPage());
  await page.goto(url, { waitUntil: "load" });
  await page.locator(".monaco-workbench").waitFor({ timeout: 60_000 });
  // The status bar item proves the extension activated.
  await page.locator(".statusbar-item", { hasText: "codefill" }).first().waitFor({ timeout: 60_000 });
  // Open the file from the explorer, as a person would.
  await page.locator(".explorer-folders-view .monaco-list-row", { hasText: file }).first().click({ timeout: 30_000 });
  await page.locator(".monaco-editor .view-lines").first().waitFor();
  await page.click(".monaco-editor .view-lines");
  await page.keyboard.press("Control+End");
  await page.keyboard.type("return", { delay: 50 });
  const ghost = page.locator(".ghost-text-decoration, .ghost-text-decoration-preview, .ghost-text");
  await ghost.first().waitFor({ state: "visible", timeout: 60_000 });
  const shown = (await ghost.allTextContents()).join("").replace(/\u00a0/g, " ");
  await page.screenshot({ path: screenshot });
  await page.keyboard.press("Tab");
  await page.waitForTimeout(500);
  const lines = (await page.locator(".monaco-editor .view-lines").first().innerText()).replace(/\u00a0/g, " ");
  // After Tab the editor may already show the next suggestion, so look at the text, not the decorations.
  const accepted = lines.includes("return" + shown);
  console.log(JSON.stringify({ shown, accepted, editor: lines }));
  process.exitCode = accepted && shown.trim() ? 0 : 1;
} catch (e) {
  console.error("FAILED", e);
  await context.pages()[0]?.screenshot({ path: screenshot }).catch(() => undefined);
  process.exitCode = 1;
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}

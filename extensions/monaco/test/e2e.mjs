// End-to-end: the playground in a real browser (Debian's chromium through
// playwright-core) against a live codefill server with its real model.
// Types code, waits for ghost text, accepts it with Tab, and checks that the
// editor's text now contains it. Writes a screenshot with the ghost text on.
//
//   node test/e2e.mjs http://127.0.0.1:8000 [screenshot.png]
//
// Exit 0 and a last line "e2e: ok {...}" on success; anything else is a failure.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const [server, screenshot = "playground.png"] = process.argv.slice(2);
if (!server) {
  console.error("usage: node test/e2e.mjs SERVER_URL [SCREENSHOT]");
  process.exit(2);
}
const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";
const profile = mkdtempSync(join(tmpdir(), "codefill-e2e-"));
const problems = [];
const fail = (message) => {
  throw new Error(message);
};

const context = await chromium.launchPersistentContext(profile, {
  executablePath,
  headless: true,
  viewport: { width: 1280, height: 720 },
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-quic",
    "--no-first-run",
    "--disable-sync",
  ],
});
try {
  const page = context.pages()[0] ?? (await context.newPage());
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  // A server without POST /v1/events (404) is expected and tolerated by the client.
  const tolerated = (url) => new URL(url).pathname === "/v1/events";
  page.on("console", (m) => m.type() === "error" && !tolerated(m.location().url || server) && problems.push(`console: ${m.text()}`));
  page.on("response", (r) => r.status() >= 400 && !tolerated(r.url()) && problems.push(`HTTP ${r.status()}: ${r.url()}`));
  // Everything the page loads must come from the server itself: no CDN.
  page.on("request", (r) => {
    const u = new URL(r.url());
    if (u.protocol.startsWith("http") && u.origin !== new URL(server).origin) problems.push(`off-origin request: ${r.url()}`);
  });

  const response = await page.goto(`${server}/playground`, { waitUntil: "load" });
  if (!response?.ok()) fail(`GET /playground: ${response?.status()} ${await response?.text()}`);
  await page.waitForFunction(() => window.playground?.editor, null, { timeout: 30_000 });
  await page.waitForFunction(() => document.getElementById("explain")?.textContent?.startsWith("model: ") && !document.getElementById("explain").textContent.includes("asking"), null, { timeout: 30_000 });

  // The longest deadline the server takes: this test is about ghost text, and the live server
  // on a busy CPU can take longer than the page's 1500 ms (it would drop the answer: a 503).
  await page.fill("#deadline", "60000");
  // Pick a language through the picker, as a person would.
  await page.selectOption("#language", "python");
  await page.waitForFunction(() => window.playground.editor.getModel().getLanguageId() === "python");

  // Type at the end of the sample: the body of the function.
  await page.click(".monaco-editor .view-lines");
  await page.keyboard.press("Control+End");
  await page.keyboard.type("    with open(path) as f:\n", { delay: 30 });
  const before = await page.evaluate(() => window.playground.editor.getValue());

  // Ghost text: Monaco draws it with the ghost-text decoration classes.
  const ghost = page.locator(".ghost-text-decoration, .ghost-text-decoration-preview, .ghost-text");
  await ghost.first().waitFor({ state: "visible", timeout: 60_000 });
  await page.waitForFunction(() => document.getElementById("suggestion")?.textContent !== "–");
  // One element per ghost line; the first is the part drawn after the cursor.
  const ghostLines = (await ghost.allTextContents()).map((t) => t.replace(/\u00a0/g, " "));
  const shownText = ghostLines.join("\n");
  const suggestion = JSON.parse(await page.textContent("#suggestion"));
  if (!shownText.trim()) fail("the ghost text is empty");
  await page.screenshot({ path: screenshot });

  await page.keyboard.press("Tab");
  await page.waitForFunction((b) => window.playground.editor.getValue() !== b, before, { timeout: 5_000 });
  const after = await page.evaluate(() => window.playground.editor.getValue());
  if (await ghost.count()) fail("ghost text still shown after Tab");
  // What was accepted is what the server sent, inserted at the cursor.
  const inserted = after.slice(before.length);
  if (!after.startsWith(before)) fail(`the text before the cursor changed:\n${before}\n---\n${after}`);
  if (inserted.trimEnd() !== suggestion.trimEnd()) fail(`inserted ${JSON.stringify(inserted)} but the server said ${JSON.stringify(suggestion)}`);
  if (!after.includes(ghostLines.find((l) => l.trim()).trim())) fail(`the editor's text lacks the ghost text ${JSON.stringify(shownText)}`);
  await page.waitForFunction(() => document.getElementById("outcome")?.textContent === "accepted", null, { timeout: 5_000 });
  const latency = await page.textContent("#total");
  if (!/^\d+ ms$/.test(latency ?? "")) fail(`the latency panel shows ${latency}`);
  if (problems.length) fail(problems.join("\n"));
  console.log("e2e: ok " + JSON.stringify({ ghost: shownText, inserted, latency, screenshot }));
} catch (err) {
  console.error("e2e: FAILED " + (err?.stack ?? err));
  if (problems.length) console.error(problems.join("\n"));
  process.exitCode = 1;
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}

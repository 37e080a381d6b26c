// The packaged extension in a real VS Code build (npm's code-server), driven in Debian's
// chromium as a person would: tests/extensions/test_code_server.py starts everything and
// runs this; by hand, see docs/CLIENTS.md ("A real VS Code").
//
//   node test/real/code-server-e2e.mjs CODE_SERVER_URL STUB_URL OUT_DIR
//
// The workspace holds main.py, rename.py and real.py (the test writes them). Three parts:
//  ghost      main.py: type "return" at the end; ghost text from the live server appears,
//             Tab accepts it, Ctrl+S saves it (the test reads the file).
//  stubbed    rename.py: rename `w` to `width` in the signature; the next-edit server is a
//             stub that answers this file with a fixed edit (`w` -> `width` on the return
//             line): it is drawn (gutter arrow, struck-through text, the new text), and Tab
//             jumps there and applies it; saved.
//  real       real.py: the same kind of change, answered by the live server (the stub only
//             forwards it and records the answer): edits must be drawn, no_edit must draw nothing.
// Screenshots go to OUT_DIR; the last line is "code-server e2e: {json}" with what was seen.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const [url, stub, out = "."] = process.argv.slice(2);
const report = {};
const profile = mkdtempSync(join(tmpdir(), "codefill-cs-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  headless: true,
  viewport: { width: 1280, height: 800 },
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-quic", "--no-first-run", "--disable-sync"],
});
const page = context.pages()[0] ?? (await context.newPage());
const editor = page.locator(".monaco-editor .view-lines").first();
const ghost = page.locator(".ghost-text-decoration, .ghost-text-decoration-preview, .ghost-text");
const gutterArrow = page.locator(".monaco-editor .cgmr");
const text = async () => (await editor.innerText()).replace(/\u00a0/g, " ");
const fail = (message) => {
  throw new Error(message);
};

/** The texts that decorations add after ranges (VS Code draws them as CSS ::after content). */
const decorationTexts = () =>
  page.evaluate(() =>
    [...document.querySelectorAll('.monaco-editor .view-lines [class*="TextEditorDecorationType"]')]
      .map((el) => getComputedStyle(el, "::after").content)
      .filter((c) => c && c !== "none" && c !== "normal")
      .map((c) => JSON.parse(c)),
  );

async function open(file) {
  await page.locator(".explorer-folders-view .monaco-list-row", { hasText: file }).first().click({ timeout: 30_000 });
  await page.locator(".tab.active", { hasText: file }).waitFor({ timeout: 30_000 });
  await editor.waitFor();
  await editor.click();
}

/**
 * Let completions settle before pressing Tab for a next edit: typing also asked the live server for
 * ghost text, which takes Tab first when it is shown. Esc hides ghost text (and leaves a next edit
 * shown); wait until no request is in flight and no ghost text is up for a second.
 */
async function settle() {
  const thinking = page.locator(".statusbar-item", { hasText: "codefill" }).locator(".codicon-loading");
  for (let quiet = 0, i = 0; quiet < 4 && i < 100; i++) {
    if (await ghost.count()) await page.keyboard.press("Escape");
    quiet = (await ghost.count()) || (await thinking.count()) ? 0 : quiet + 1;
    await page.waitForTimeout(300);
  }
}

/** Put the cursor at line/column (1-based) with the Go to Line box, as a person would. */
async function goTo(line, column) {
  await page.keyboard.press("Control+g");
  await page.keyboard.type(`${line}:${column}`);
  await page.keyboard.press("Enter");
  await page.waitForTimeout(200);
}

async function answersFor(file) {
  const r = await fetch(`${stub}/_stub/answers`);
  const all = await r.json();
  return all.forwarded.filter((a) => a.request.path.endsWith(file));
}

try {
  await page.goto(url, { waitUntil: "load" });
  await page.locator(".monaco-workbench").waitFor({ timeout: 60_000 });
  // The status bar item proves the extension activated.
  await page.locator(".statusbar-item", { hasText: "codefill" }).first().waitFor({ timeout: 60_000 });

  // --- ghost text from the live server, accepted with Tab
  await open("main.py");
  await page.keyboard.press("Control+End");
  await page.keyboard.type("return", { delay: 50 });
  await ghost.first().waitFor({ state: "visible", timeout: 90_000 });
  const shown = (await ghost.allTextContents()).join("").replace(/\u00a0/g, " ");
  await page.screenshot({ path: join(out, "code-server-ghost.png") });
  await page.keyboard.press("Tab");
  await page.waitForTimeout(300);
  await page.keyboard.press("Control+s");
  report.ghost = { shown, editor: await text() };

  // --- a next edit elsewhere in the file (stubbed server), drawn, then Tab jumps and applies it
  await open("rename.py");
  await goTo(1, 11); // after "def area(w"
  await page.keyboard.type("idth", { delay: 50 });
  await gutterArrow.first().waitFor({ state: "visible", timeout: 30_000 });
  await settle();
  if (!(await gutterArrow.count())) fail("Esc on ghost text also hid the next edit");
  const drawn = await decorationTexts();
  await page.screenshot({ path: join(out, "code-server-next-edit.png") });
  const before = await text();
  await page.keyboard.press("Tab");
  await page.waitForFunction(() => !document.querySelector(".monaco-editor .cgmr"), null, { timeout: 10_000 });
  await page.waitForTimeout(300);
  const after = await text();
  const cursor = await page.locator(".statusbar-item", { hasText: /^Ln \d+, Col \d+/ }).first().innerText();
  await page.keyboard.press("Control+s");
  await page.screenshot({ path: join(out, "code-server-next-edit-applied.png") });
  report.stubbed = { drawn, before, after, cursor };

  // --- the live server's own next edit: drawn when it has edits, nothing when it says no_edit
  await open("real.py");
  await goTo(1, 14); // after "def area(w, h"
  await page.keyboard.type("eight", { delay: 50 });
  const wanted = (await text()).includes("def area(w, height):");
  if (!wanted) fail(`typing went wrong: ${await text()}`);
  let answer;
  for (let i = 0; i < 400 && !answer; i++) { // up to 200 s: the default model is slow at next edits
    // The answer for the text as typed in full (earlier keystrokes' requests are aborted).
    answer = (await answersFor("real.py")).filter((a) => a.request.text.includes("def area(w, height):")).at(-1);
    if (!answer) await page.waitForTimeout(500);
  }
  if (!answer) fail("the live server's next edit never came back through the stub");
  report.real = { status: answer.status, answer: answer.answer };
  if (answer.status !== 200) fail(`the live server answered ${answer.status}: ${JSON.stringify(answer.answer)}`);
  await page.waitForTimeout(1500); // time to draw it
  report.real.arrow = await gutterArrow.count();
  report.real.ghost = (await ghost.allTextContents()).join("");
  report.real.drawn = await decorationTexts();
  await page.screenshot({ path: join(out, "code-server-real-next-edit.png") });
  console.log("code-server e2e: " + JSON.stringify(report));
} catch (e) {
  console.error("code-server e2e: FAILED " + (e?.stack ?? e));
  console.error(JSON.stringify(report));
  await page.screenshot({ path: join(out, "code-server-failure.png") }).catch(() => undefined);
  process.exitCode = 1;
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}

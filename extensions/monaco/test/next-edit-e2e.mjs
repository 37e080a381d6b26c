// Next edits in the playground, in a real browser (Debian's chromium through playwright-core)
// served by a live codefill server with its real model.
//
//   node test/next-edit-e2e.mjs http://127.0.0.1:8000 OUT_DIR
//
// Two parts:
//  stubbed  The default model is not a next-edit model, so for this part the browser's
//           POST /v1/next_edit is answered here (playwright's page.route) with a fixed edit
//           once `area(w, h)` has been renamed to `area(width, h)`: `w` -> `width` on the
//           return line. The page draws it (arrow in the margin, the old text struck through,
//           the new text), Tab jumps there and applies it.
//  real     The same kind of change, with the request passed through to the live server and
//           its answer recorded: edits must be drawn (or offered as ghost text), no_edit
//           must draw nothing.
// Exit 0 and a last line "next-edit e2e: ok {...}" on success.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const [server, out = "."] = process.argv.slice(2);
const FILE = "def area(w, h):\n    return w * h\n\n\nprint(area(2, 3))\n";
const profile = mkdtempSync(join(tmpdir(), "codefill-ne-"));
const report = {};
const fail = (message) => {
  throw new Error(message);
};

const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  headless: true,
  viewport: { width: 1280, height: 720 },
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-quic", "--no-first-run", "--disable-sync"],
});
let mode = "stubbed";
const real = [];
try {
  const page = context.pages()[0] ?? (await context.newPage());
  await page.route("**/v1/next_edit", async (route) => {
    const body = JSON.parse(route.request().postData() ?? "{}");
    if (mode === "real") {
      // A next edit from the default model on a busy CPU can take longer than playwright's 30 s default.
      const response = await route.fetch({ timeout: 240_000 }).catch(() => null);
      if (!response) return route.abort().catch(() => undefined); // the page gave up on it (a newer keystroke)
      real.push({ text: body.text, status: response.status(), answer: await response.json().catch(() => null) });
      return route.fulfill({ response }).catch(() => undefined);
    }
    const lines = body.text.split("\n");
    const at = lines.indexOf("    return w * h");
    const edits = lines.includes("def area(width, h):") && at >= 0 ? [{ range: { start: { line: at, character: 11 }, end: { line: at, character: 12 } }, text: "width" }] : [];
    await route.fulfill({ json: { id: "nedit-stub", object: "next_edit", model: body.model, edits, no_edit: !edits.length, usage: {} } });
  });
  await page.goto(`${server}/playground/?language=python`, { waitUntil: "load" });
  await page.waitForFunction(() => window.playground?.editor);
  await page.waitForFunction(() => document.getElementById("explain")?.textContent?.startsWith("model: ") && !document.getElementById("explain").textContent.includes("asking"), null, { timeout: 30_000 });
  const value = () => page.evaluate(() => window.playground.editor.getValue());
  const ghost = page.locator(".ghost-text-decoration, .ghost-text-decoration-preview, .ghost-text");
  const arrow = page.locator(".codefill-next-edit-arrow");
  /** Load FILE, then put the cursor at (line, column), 1-based, as if the user had clicked there. */
  const load = async (line, column) => {
    await page.evaluate((text) => window.playground.editor.setValue(text), FILE);
    await page.click(".monaco-editor .view-lines");
    await page.evaluate(([lineNumber, column]) => window.playground.editor.setPosition({ lineNumber, column }), [line, column]);
  };

  // --- stubbed: drawn where it goes, Tab applies it
  await load(1, 11); // after "def area(w"
  await page.keyboard.type("idth", { delay: 50 });
  await arrow.first().waitFor({ state: "visible", timeout: 30_000 });
  // Typing also asked for completions, whose ghost text takes Tab first: wait until none is in flight
  // and none is shown for a second (Esc hides ghost text and leaves the next edit).
  const thinking = page.locator('#status[data-status="thinking"]');
  for (let quiet = 0, i = 0; quiet < 4 && i < 100; i++) {
    if (await ghost.count()) await page.keyboard.press("Escape");
    quiet = (await ghost.count()) || (await thinking.count()) ? 0 : quiet + 1;
    await page.waitForTimeout(300);
  }
  if (!(await arrow.count())) fail("Esc on ghost text also hid the next edit");
  const drawn = await page.locator(".codefill-next-edit-new").allTextContents();
  const struck = await page.locator(".codefill-next-edit-replaced").allTextContents();
  await page.screenshot({ path: join(out, "playground-next-edit.png") });
  await page.keyboard.press("Tab");
  await page.waitForFunction(() => window.playground.editor.getValue().includes("return width * h"), null, { timeout: 10_000 });
  const position = await page.evaluate(() => window.playground.editor.getPosition());
  // Monaco draws the glyph margin on its next frame: the arrow's element may outlive the edit by one.
  if (!(await arrow.first().waitFor({ state: "detached", timeout: 5_000 }).then(() => true, () => false)))
    fail("the arrow is still shown after Tab");
  await page.waitForFunction(() => document.getElementById("next-edit")?.textContent === "accepted");
  report.stubbed = { drawn, struck, after: await value(), position };

  // --- real: the live server's own answer
  mode = "real";
  await load(1, 14); // after "def area(w, h"
  await page.keyboard.type("eight", { delay: 50 });
  const typed = FILE.replace("w, h)", "w, height)");
  if ((await value()) !== typed) fail(`typing went wrong: ${await value()}`);
  let answer;
  for (let i = 0; i < 240 && !answer; i++) {
    answer = real.filter((r) => r.text === typed).at(-1);
    if (!answer) await page.waitForTimeout(500);
  }
  if (!answer) fail("the live server's next edit never came back");
  await page.waitForTimeout(1500); // time to draw it
  report.real = { status: answer.status, answer: answer.answer, arrow: await arrow.count(), drawn: await page.locator(".codefill-next-edit-new").allTextContents(), ghost: (await ghost.allTextContents()).join("") };
  await page.screenshot({ path: join(out, "playground-real-next-edit.png") });
  console.log("next-edit e2e: ok " + JSON.stringify(report));
} catch (err) {
  console.error("next-edit e2e: FAILED " + (err?.stack ?? err));
  console.error(JSON.stringify(report));
  await context.pages()[0]?.screenshot({ path: join(out, "playground-next-edit-failure.png") }).catch(() => undefined);
  process.exitCode = 1;
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}

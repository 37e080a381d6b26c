import { describe, expect, it } from "vitest";
import { buildContext, textSourceFromString, windowStart } from "../src/context.js";

const numbered = (n: number) => textSourceFromString(Array.from({ length: n }, (_, i) => `line ${i}`).join("\n"));

describe("buildContext", () => {
  it("splits the cursor line between prompt and suffix", () => {
    const doc = textSourceFromString("def add(a, b):\n    return a + b\n");
    const ctx = buildContext(doc, { line: 1, character: 10 });
    expect(ctx.prompt).toBe("def add(a, b):\n    return");
    expect(ctx.suffix).toBe(" a + b\n");
  });

  it("keeps the document's CRLF line breaks", () => {
    const doc = textSourceFromString("a\r\nb\r\nc");
    const ctx = buildContext(doc, { line: 1, character: 1 });
    expect(ctx.prompt).toBe("a\r\nb");
    expect(ctx.suffix).toBe("\r\nc");
  });

  it("sends whole lines: about 120 before and 40 after the cursor", () => {
    const doc = numbered(1000);
    const ctx = buildContext(doc, { line: 500, character: 4 });
    const first = ctx.prompt.split("\n")[0];
    expect(first).toMatch(/^line \d+$/); // starts on a line boundary
    expect(ctx.firstLine).toBeLessThanOrEqual(500 - 120);
    expect(ctx.firstLine).toBeGreaterThan(500 - 120 - 32);
    expect(ctx.suffix.split("\n").at(-1)).toBe("line 540");
    expect(ctx.lastLine).toBe(540);
  });

  it("keeps the prompt's head the same while the user types and moves a few lines", () => {
    const doc = numbered(1000);
    const heads = new Set<number>();
    for (let line = 200; line < 216; line++) heads.add(buildContext(doc, { line, character: 2 }).firstLine);
    expect([...heads]).toEqual([64]); // 200-120=80 rounded down to 64, the same for all 16 lines
    // but it does move on once the cursor has gone far enough
    expect(buildContext(doc, { line: 260, character: 0 }).firstLine).toBe(128);
  });

  it("clamps a cursor past the end of a line or the document", () => {
    const doc = textSourceFromString("ab\ncd");
    expect(buildContext(doc, { line: 9, character: 99 })).toMatchObject({ prompt: "ab\ncd", suffix: "" });
  });

  it("starts at line 0 near the top", () => {
    expect(windowStart(50)).toBe(0);
    expect(windowStart(151)).toBe(0);
    expect(windowStart(152)).toBe(32);
  });
});

import { beforeEach, describe, expect, it } from "vitest";
import { StatusBar } from "../../src/status.js";
import { ThemeColor, fake } from "../fake-vscode.js";

describe("StatusBar", () => {
  beforeEach(() => fake.reset());

  it("shows each state, and a click runs the toggle command", () => {
    const bar = new StatusBar("codefill.toggle");
    const item = fake.statusItems[0];
    expect(item.visible).toBe(true);
    expect(item.command).toBe("codefill.toggle");
    const seen: Record<string, string> = {};
    for (const s of ["ready", "thinking", "error", "off"] as const) {
      bar.set(s);
      seen[s] = item.text;
    }
    expect(new Set(Object.values(seen)).size).toBe(4); // four states, four looks
    expect(seen.thinking).toContain("loading~spin");
    expect(seen.off).toContain("circle-slash");
  });

  it("puts the error's message in the tooltip and colours the item", () => {
    const bar = new StatusBar("codefill.toggle");
    const item = fake.statusItems[0];
    bar.set("error", "cannot reach http://127.0.0.1:8000: ECONNREFUSED");
    expect(item.tooltip).toContain("ECONNREFUSED");
    expect(item.backgroundColor).toEqual(new ThemeColor("statusBarItem.errorBackground"));
    bar.set("ready");
    expect(item.backgroundColor).toBeUndefined();
  });
});

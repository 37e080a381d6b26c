import { describe, expect, it } from "vitest";
import { fromLSP, fromMonaco, fromVSCode } from "../src/triggers.js";

describe("trigger kinds", () => {
  // The numbers each editor's API uses (see triggers.ts); VS Code's and Monaco's are opposite.
  it("maps VS Code's Invoke=0 / Automatic=1", () => {
    expect(fromVSCode(0)).toBe("explicit");
    expect(fromVSCode(1)).toBe("automatic");
  });
  it("maps Monaco's Automatic=0 / Explicit=1", () => {
    expect(fromMonaco(0)).toBe("automatic");
    expect(fromMonaco(1)).toBe("explicit");
  });
  it("maps LSP's Invoked=1 / Automatic=2", () => {
    expect(fromLSP(1)).toBe("explicit");
    expect(fromLSP(2)).toBe("automatic");
  });
});

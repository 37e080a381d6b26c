/**
 * The file VS Code actually loads: dist/extension.js, as esbuild bundles it
 * (and as the .vsix ships it), with only `vscode` and Node's own modules
 * left to require.
 */
import { execFileSync } from "node:child_process";
import Module, { builtinModules, createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as fakeVscode from "../fake-vscode.js";
import { extensionContext, fake } from "../fake-vscode.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const required: string[] = [];
const load = (Module as any)._load;

describe("dist/extension.js", () => {
  beforeAll(() => {
    execFileSync(process.execPath, ["esbuild.mjs"], { cwd: root });
    (Module as any)._load = function (request: string, ...rest: unknown[]) {
      required.push(request);
      return request === "vscode" ? fakeVscode : load.call(this, request, ...rest);
    };
  });
  afterAll(() => {
    (Module as any)._load = load;
  });

  it("activates in a host that provides only `vscode` and Node's built-ins", () => {
    fake.reset();
    const ext = createRequire(import.meta.url)(root + "dist/extension.js");
    expect(typeof ext.activate).toBe("function");
    expect(typeof ext.deactivate).toBe("function");
    ext.activate(extensionContext());
    expect(fake.providers).toHaveLength(1);
    expect(fake.commands.has("codefill.toggle")).toBe(true);
    const foreign = required.filter((r) => r !== "vscode" && !builtinModules.includes(r.replace(/^node:/, "")));
    expect(foreign.filter((r) => r.includes("extension.js") === false)).toEqual([]);
  });
});

import { beforeEach, describe, expect, it } from "vitest";
import pkg from "../../package.json";
import { readSettings } from "../../src/settings.js";
import { fake } from "../fake-vscode.js";

describe("readSettings", () => {
  beforeEach(() => fake.reset());

  it("uses the same defaults as the manifest declares", () => {
    const s = readSettings();
    const props = pkg.contributes.configuration.properties;
    expect(s.enabled).toBe(props["codefill.enabled"].default);
    expect(s.serverUrl).toBe(props["codefill.serverUrl"].default);
    expect(s.languages).toEqual(props["codefill.enabledLanguages"].default);
    expect(s.triggerMode).toBe(props["codefill.triggerMode"].default);
    expect(s.debounceMs).toBe(props["codefill.debounceMs"].default);
    expect(s.deadlineMs).toBe(props["codefill.deadlineMs"].default);
    expect(s.deadlineMs).toBe(1500);
    expect(s.mode).toBe(props["codefill.completionMode"].default);
    expect(s.maxTokens).toBe(props["codefill.maxTokens"].default);
    expect(s.reportEvents).toBe(props["codefill.reportEvents"].default);
    expect(s.model).toBeUndefined();
    expect(s.nextEdits.enabled).toBe(props["codefill.nextEdits"].default);
    expect(s.nextEdits.debounceMs).toBe(props["codefill.nextEditDelayMs"].default);
    expect(s.nextEdits.serverUrl).toBe(s.serverUrl); // empty codefill.nextEditServerUrl: the same server
  });

  it("reads what the user set, clamping nonsense", () => {
    fake.config.set("codefill.serverUrl", "http://gpu-box:9000");
    fake.config.set("codefill.enabledLanguages", ["go"]);
    fake.config.set("codefill.triggerMode", "manual");
    fake.config.set("codefill.debounceMs", -5);
    fake.config.set("codefill.model", "qwen2.5-coder");
    expect(readSettings()).toMatchObject({
      serverUrl: "http://gpu-box:9000",
      languages: ["go"],
      triggerMode: "manual",
      debounceMs: 0,
      model: "qwen2.5-coder",
    });
  });

  it("reads codefill.deadlineMs: 0 stays 0 (not sent), out of range is clamped", () => {
    for (const [set, read] of [[800, 800], [0, 0], [-1, 0], [90000, 60000]]) {
      fake.config.set("codefill.deadlineMs", set);
      expect(readSettings().deadlineMs).toBe(read);
    }
  });

  it("keeps no API key among the settings: it lives in SecretStorage", () => {
    expect(Object.keys(pkg.contributes.configuration.properties).some((k) => /api.?key|secret|password/i.test(k))).toBe(false);
  });
});

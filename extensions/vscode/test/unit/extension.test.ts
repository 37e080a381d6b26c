import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import * as vscode from "vscode";
import { MODELS, completionStream, fakeFetch, json, sse } from "../../../common/test/fake-fetch.js";
import pkg from "../../package.json";
import { activate } from "../../src/extension.js";
import { CancellationTokenSource, InlineCompletionTriggerKind, document, extensionContext, fake } from "../fake-vscode.js";

function fakeServer(eventsStatus = 404) {
  return fakeFetch((req) => {
    if (req.url.endsWith("/v1/models")) return json(200, MODELS);
    if (req.url.endsWith("/v1/completions")) return sse(completionStream("cmpl-42", ["()"]), req.signal);
    return json(eventsStatus, eventsStatus === 200 ? {} : { error: { message: "No such endpoint" } });
  });
}

async function ask(activated: ReturnType<typeof activate>) {
  const provider = fake.providers[0].provider;
  return provider.provideInlineCompletionItems(
    document("print"),
    new vscode.Position(0, 5),
    { triggerKind: InlineCompletionTriggerKind.Invoke },
    new CancellationTokenSource().token,
  );
}

describe("activate", () => {
  beforeEach(() => fake.reset());
  afterEach(() => vi.unstubAllGlobals());

  it("registers the provider for every file and every command the manifest contributes", () => {
    const context = extensionContext();
    activate(context as any);
    expect(fake.providers).toHaveLength(1);
    expect(fake.providers[0].selector).toEqual({ pattern: "**" });
    for (const c of pkg.contributes.commands) expect(fake.commands.has(c.command), c.command).toBe(true);
    // and everything it made is disposed with the extension
    for (const d of context.subscriptions) d.dispose();
    expect(fake.providers).toHaveLength(0);
    expect(fake.commands.size).toBe(0);
  });

  it("toggle turns completions off (status 'off', no requests) and on again", async () => {
    const server = fakeServer();
    vi.stubGlobal("fetch", server.fetch);
    const a = activate(extensionContext() as any);
    await vscode.commands.executeCommand("codefill.toggle");
    expect(fake.config.get("codefill.enabled")).toBe(false);
    expect(a.status.status).toBe("off");
    expect(await ask(a)).toEqual([]);
    expect(server.calls).toHaveLength(0);

    await vscode.commands.executeCommand("codefill.toggle");
    expect(a.status.status).toBe("ready");
    expect((await ask(a))[0].insertText).toBe("()");
  });

  it("sends the API key from SecretStorage, never from settings", async () => {
    const server = fakeServer();
    vi.stubGlobal("fetch", server.fetch);
    const context = extensionContext();
    const a = activate(context as any);
    fake.inputBoxAnswer = " sk-secret ";
    await vscode.commands.executeCommand("codefill.setApiKey");
    expect(context.stored.get("codefill.apiKey")).toBe("sk-secret");
    await new Promise((r) => setTimeout(r, 0)); // the change event reloads the key
    await ask(a);
    expect(server.calls.at(-1)!.headers.Authorization).toBe("Bearer sk-secret");
    expect([...fake.config.keys()].some((k) => /key/i.test(k))).toBe(false);

    await vscode.commands.executeCommand("codefill.clearApiKey");
    await new Promise((r) => setTimeout(r, 0));
    await ask(a);
    expect(server.calls.at(-1)!.headers.Authorization).toBeUndefined();
  });

  it("reports shown and accepted to /v1/events when the server has it", async () => {
    const server = fakeServer(200);
    vi.stubGlobal("fetch", server.fetch);
    const a = activate(extensionContext() as any);
    const [item] = await ask(a);
    await vscode.commands.executeCommand(item.command.command, ...item.command.arguments);
    await new Promise((r) => setTimeout(r, 0));
    const sent = server.calls.filter((c) => c.url.endsWith("/v1/events")).map((c) => c.body);
    expect(sent).toEqual([
      { event: "shown", completion_id: "cmpl-42" },
      { event: "accepted", completion_id: "cmpl-42" },
    ]);
  });

  it("goes on completing when the server has no /v1/events (404), and stops asking it", async () => {
    const server = fakeServer(404);
    vi.stubGlobal("fetch", server.fetch);
    const a = activate(extensionContext() as any);
    for (let i = 0; i < 3; i++) expect((await ask(a))[0].insertText).toBe("()");
    await new Promise((r) => setTimeout(r, 0));
    expect(server.calls.filter((c) => c.url.endsWith("/v1/events"))).toHaveLength(1);
    expect(a.status.status).toBe("ready");
  });

  it("sends codefill.deadlineMs as deadline_ms: 1500 by default, the setting, nothing at 0", async () => {
    const server = fakeServer();
    vi.stubGlobal("fetch", server.fetch);
    const a = activate(extensionContext() as any);
    const sent = async () => {
      await ask(a);
      return server.calls.filter((c) => c.url.endsWith("/v1/completions")).at(-1)!.body;
    };
    expect((await sent()).deadline_ms).toBe(1500);
    fake.config.set("codefill.deadlineMs", 900);
    expect((await sent()).deadline_ms).toBe(900);
    fake.config.set("codefill.deadlineMs", 0);
    expect("deadline_ms" in (await sent())).toBe(false);
  });

  it("a 503 deadline_exceeded shows no ghost text and no error, and is not asked again", async () => {
    const debug = vi.spyOn(console, "debug").mockImplementation(() => undefined);
    const error = { message: "could not finish before its deadline", type: "service_unavailable", param: "deadline_ms", code: "deadline_exceeded" };
    const server = fakeFetch((req) => (req.url.endsWith("/v1/models") ? json(200, MODELS) : json(503, { error })));
    vi.stubGlobal("fetch", server.fetch);
    const a = activate(extensionContext() as any);
    expect(await ask(a)).toEqual([]);
    await new Promise((r) => setTimeout(r, 50));
    expect(a.status.status).toBe("ready");
    expect(server.calls.filter((c) => c.url.endsWith("/v1/completions"))).toHaveLength(1);
    expect(debug).toHaveBeenCalled();
    debug.mockRestore();
  });

  it("the trigger command asks VS Code for an inline suggestion", async () => {
    activate(extensionContext() as any);
    await vscode.commands.executeCommand("codefill.trigger");
    expect(fake.executed.map((e) => e.command)).toContain("editor.action.inlineSuggest.trigger");
  });
});

import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { debounce } from "../src/debounce.js";

describe("debounce", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("resolves true after the delay", async () => {
    const p = debounce(100, new AbortController().signal);
    let settled: boolean | undefined;
    p.then((v) => (settled = v));
    await vi.advanceTimersByTimeAsync(99);
    expect(settled).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(settled).toBe(true);
  });

  it("resolves false the moment the signal aborts, without waiting the delay out", async () => {
    const ac = new AbortController();
    const p = debounce(10_000, ac.signal);
    ac.abort();
    await expect(p).resolves.toBe(false);
    expect(vi.getTimerCount()).toBe(0); // the timer was cleared
  });

  it("resolves false at once for an already aborted signal", async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(debounce(100, ac.signal)).resolves.toBe(false);
  });
});

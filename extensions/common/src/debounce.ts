/**
 * Waiting out a burst of keystrokes, cancellably.
 *
 * The editor cancels the previous request when the user types again; the
 * wait must end at that moment (not after the full delay), and the caller
 * must learn that it was cancelled so no HTTP request is sent at all.
 */

/** Resolves true after `ms`, or false as soon as `signal` aborts (at once if it already has). */
export function debounce(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  if (ms <= 0) return Promise.resolve(true);
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

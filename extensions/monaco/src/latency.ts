/** The numbers the latency panel shows: the last request and a median of the recent ones. */

export interface Sample {
  firstTextMs: number | null;
  totalMs: number;
}

export class LatencyLog {
  private samples: Sample[] = [];

  constructor(private readonly keep = 20) {}

  add(s: Sample): void {
    this.samples.push(s);
    if (this.samples.length > this.keep) this.samples.shift();
  }

  get last(): Sample | undefined {
    return this.samples.at(-1);
  }

  get count(): number {
    return this.samples.length;
  }

  /** Median of total latency over the kept samples (null when there are none). */
  medianTotalMs(): number | null {
    if (!this.samples.length) return null;
    const sorted = this.samples.map((s) => s.totalMs).sort((a, b) => a - b);
    const mid = sorted.length >> 1;
    return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  }
}

export function formatMs(ms: number | null | undefined): string {
  return ms == null ? "–" : `${Math.round(ms)} ms`;
}

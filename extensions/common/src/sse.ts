/**
 * Server-sent events, decoded incrementally.
 *
 * Network chunks split events (and UTF-8 characters) anywhere; the decoder
 * keeps the unfinished part until the blank line that ends an event. Only the
 * `data:` field matters for OpenAI streams; comments (`: ping`) are skipped.
 */

export class SseDecoder {
  private buffer = "";
  private readonly text = new TextDecoder();

  /** Feed bytes; returns the data of every event completed by them. */
  push(chunk: Uint8Array): string[] {
    this.buffer += this.text.decode(chunk, { stream: true });
    return this.drain();
  }

  /** The data of a last event not followed by a blank line (a server that closed early). */
  end(): string[] {
    this.buffer += this.text.decode();
    if (this.buffer.trim()) this.buffer += "\n\n";
    return this.drain();
  }

  private drain(): string[] {
    const events: string[] = [];
    // CRLF line ends are allowed by the SSE spec; a lone CR at the very end may
    // be the first half of a CRLF split across chunks, so it waits.
    this.buffer = this.buffer.replace(/\r\n/g, "\n");
    let end: number;
    while ((end = this.buffer.indexOf("\n\n")) >= 0) {
      const block = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      const data = block
        .split("\n")
        .filter((l) => l.startsWith("data:"))
        .map((l) => l.slice(5).replace(/^ /, ""));
      if (data.length) events.push(data.join("\n"));
    }
    return events;
  }
}

import { describe, expect, it } from "vitest";
import { SseDecoder } from "../src/sse.js";

const enc = new TextEncoder();

function decodeIn(pieces: Uint8Array[]): string[] {
  const d = new SseDecoder();
  return [...pieces.flatMap((p) => d.push(p)), ...d.end()];
}

describe("SseDecoder", () => {
  const wire = 'data: {"t":"héllo ✓"}\n\n: ping\n\ndata: [DONE]\n\n';

  it("decodes whole events and skips comments", () => {
    expect(decodeIn([enc.encode(wire)])).toEqual(['{"t":"héllo ✓"}', "[DONE]"]);
  });

  it("gives the same events however the bytes are split, even inside a UTF-8 character", () => {
    const bytes = enc.encode(wire);
    for (let cut = 1; cut < bytes.length; cut++) {
      expect(decodeIn([bytes.slice(0, cut), bytes.slice(cut)])).toEqual(['{"t":"héllo ✓"}', "[DONE]"]);
    }
  });

  it("accepts CRLF line ends, also split between chunks", () => {
    const bytes = enc.encode("data: a\r\n\r\ndata: b\r\n\r\n");
    for (let cut = 1; cut < bytes.length; cut++) {
      expect(decodeIn([bytes.slice(0, cut), bytes.slice(cut)])).toEqual(["a", "b"]);
    }
  });

  it("joins multi-line data and keeps an unterminated last event", () => {
    expect(decodeIn([enc.encode("data: a\ndata: b\n\ndata: tail")])).toEqual(["a\nb", "tail"]);
  });
});

import { applyPatch, parsePatch } from "diff";
import { describe, expect, it } from "vitest";
import { EditHistory } from "../src/history.js";

const options = { maxEvents: 4, maxBytes: 4096, maxFileChars: 10_000, nearLines: 2, pauseMs: 1000 };

function recorder() {
  let now = 0;
  const history = new EditHistory(options, () => now);
  return { history, tick: (ms: number) => (now += ms) };
}

describe("EditHistory", () => {
  it("turns a change into a unified diff that applies to the text before it", () => {
    const { history } = recorder();
    const before = "def area(w, h):\n    return w * h\n\nprint(area(2, 3))\n";
    const after = "def area(width, h):\n    return w * h\n\nprint(area(2, 3))\n";
    history.open("src/geo.py", before);
    history.change("src/geo.py", after);
    const [event] = history.events();
    expect(event.path).toBe("src/geo.py");
    expect(event.diff).toContain("--- src/geo.py\n+++ src/geo.py\n@@ -1,4 +1,4 @@");
    expect(event.diff).toContain("-def area(w, h):\n+def area(width, h):");
    expect(applyPatch(before, event.diff)).toBe(after);
  });

  it("keystrokes close together are one edit; an edit far away, in another file or after a pause is a new one", () => {
    const { history, tick } = recorder();
    const lines = Array.from({ length: 30 }, (_, i) => `line ${i}`);
    const text = (ls: string[]) => ls.join("\n") + "\n";
    history.open("a.py", text(lines));
    for (const typed of ["x", "xy", "xyz"]) {
      lines[3] = "line 3" + typed;
      history.change("a.py", text(lines));
      tick(100);
    }
    expect(history.events()).toHaveLength(1);
    expect(parsePatch(history.events()[0].diff)[0].hunks[0].lines.filter((l) => l.startsWith("+"))).toEqual(["+line 3xyz"]);

    lines[4] = "line 4!"; // a line below: still the same edit
    history.change("a.py", text(lines));
    expect(history.events()).toHaveLength(1);

    lines[25] = "far"; // far away: a new edit
    history.change("a.py", text(lines));
    expect(history.events()).toHaveLength(2);

    history.open("b.py", "b\n");
    history.change("b.py", "bb\n"); // another file
    tick(2000);
    history.change("b.py", "bbb\n"); // after a pause
    expect(history.events().map((e) => e.path)).toEqual(["a.py", "a.py", "b.py", "b.py"]);
  });

  it("keeps CRLF documents with \\n line breaks, as requests send them", () => {
    const { history } = recorder();
    history.open("w.py", "a = 1\r\nb = 2\r\n");
    history.change("w.py", "a = 1\r\nb = 3\r\n");
    const [event] = history.events();
    expect(event.diff).not.toContain("\r");
    expect(event.diff).toContain("-b = 2\n+b = 3\n");
  });

  it("typing something and undoing it leaves no edit", () => {
    const { history } = recorder();
    history.open("a.py", "x = 1\n");
    history.change("a.py", "x = 12\n");
    history.change("a.py", "x = 1\n");
    expect(history.events()).toEqual([]);
  });

  it("keeps the newest events within the event and byte bounds", () => {
    const { history, tick } = recorder();
    history.open("a.py", "0\n");
    for (let i = 1; i <= 6; i++) {
      tick(5000);
      history.change("a.py", `${i}\n`);
    }
    const events = history.events();
    expect(events).toHaveLength(4);
    expect(events.at(-1)!.diff).toContain("+6");
    expect(events[0].diff).toContain("+3");

    // Byte bound: the same three edits, with room for the newest two only.
    const feed = (h: EditHistory) => {
      for (const path of ["x.py", "y.py", "z.py"]) {
        h.open(path, "a\n");
        h.change(path, `${path}\n`);
      }
      return h.events();
    };
    const all = feed(new EditHistory(options, () => 0));
    const room = all[1].diff.length + all[2].diff.length;
    const kept = feed(new EditHistory({ ...options, maxBytes: room }, () => 0));
    expect(kept.map((e) => e.path)).toEqual(["y.py", "z.py"]);
  });

  it("follows a document first seen by its change, and drops files over the size bound", () => {
    const { history } = recorder();
    history.change("new.py", "a\n"); // no snapshot yet: only the base
    history.change("new.py", "ab\n");
    expect(history.events()).toHaveLength(1);
    history.open("big.txt", "x".repeat(20_000));
    history.change("big.txt", "y".repeat(20_000));
    expect(history.events().map((e) => e.path)).toEqual(["new.py"]);
    history.clear();
    expect(history.events()).toEqual([]);
  });
});

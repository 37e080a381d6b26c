import { describe, expect, it } from "vitest";
import { EventTracker } from "../src/events.js";

function tracker() {
  const sent: string[] = [];
  return { t: new EventTracker((e, id) => sent.push(`${e}:${id}`)), sent };
}

describe("EventTracker", () => {
  it("reports shown then accepted", () => {
    const { t, sent } = tracker();
    t.shown("a");
    t.shown("a"); // the editor asking again for the same completion is not a second showing
    t.accepted("a");
    expect(sent).toEqual(["shown:a", "accepted:a"]);
  });

  it("counts a completion replaced before acceptance as dismissed", () => {
    const { t, sent } = tracker();
    t.shown("a");
    t.shown("b");
    expect(sent).toEqual(["shown:a", "dismissed:a", "shown:b"]);
  });

  it("dismisses only what is on screen, once", () => {
    const { t, sent } = tracker();
    t.shown("a");
    t.dismissed("zzz");
    t.dismissed();
    t.dismissed();
    expect(sent).toEqual(["shown:a", "dismissed:a"]);
  });

  it("does not dismiss an accepted completion when the next one shows", () => {
    const { t, sent } = tracker();
    t.shown("a");
    t.accepted("a");
    t.shown("b");
    expect(sent).toEqual(["shown:a", "accepted:a", "shown:b"]);
  });
});

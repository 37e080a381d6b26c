/**
 * What became of each completion the user saw: shown, then accepted or
 * dismissed, each reported once.
 *
 * Monaco says when an item was accepted or rejected; VS Code's stable API
 * only runs a command on acceptance. So a shown completion that is replaced
 * by another one before it was accepted counts as dismissed, and the editor
 * may also call `dismissed` itself when it knows better.
 */

import type { EventKind } from "./client.js";

export class EventTracker {
  private showing: string | null = null;

  constructor(private readonly send: (event: EventKind, completionId: string) => void) {}

  shown(id: string): void {
    if (!id || id === this.showing) return;
    if (this.showing) this.send("dismissed", this.showing);
    this.showing = id;
    this.send("shown", id);
  }

  accepted(id: string): void {
    if (!id) return;
    if (this.showing === id) this.showing = null;
    this.send("accepted", id);
  }

  /** The completion on screen (or `id`, if it is the one on screen) went away unaccepted. */
  dismissed(id?: string): void {
    const target = id ?? this.showing;
    if (!target || target !== this.showing) return;
    this.showing = null;
    this.send("dismissed", target);
  }
}

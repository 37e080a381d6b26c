"""Implicit sessions: editor sessions for clients that send none.

An editor session (`user`, or the `X-Session-Id` header) is what gives a
client its own KV state in the engine, cold-window growth and typing-through
memory. llama.cpp's own editor plugins (`/infill`), Ollama clients and plain
OpenAI clients send no session, so each of their keystrokes used to start
from whatever the tenant's sessionless state happened to hold. Here such a
request is matched to one of its tenant's *implicit sessions* instead, the
way llama.cpp's server picks a slot (`--slot-prompt-similarity`): the one
whose last prompt shares most with this one, if it shares enough; else a new
one. From there on it is served as if the client had sent that session.

The rule, in characters of text:
- A prompt is its document's text around the cursor: the prefix, anchored as
  the prompt stage anchors it (prompt/fitting.py `anchor_window`: the head of
  an editor's sliding window stays put while it slides down the file), and
  the suffix. The share of two prompts is the prefix's longest common prefix
  plus the suffix's longest common end: typing (or deleting, or moving the
  cursor) k characters lowers it by about k.
- A request matches an implicit session when the share is at least half
  (SIMILARITY, llama.cpp's original default for the same threshold) of the
  longer of the two prompts, and is not empty. Half of the *longer*, not of
  the new one as in llama.cpp: a slot there is only a cache, but a session
  here is an identity (typing-through, the KV slot it overwrites), so both
  must look like the same document: a short new file whose few characters
  begin a long one is not that file, and two files of a project that share a
  licence header share far less than half of their text. A jump in a file
  by less than half of what the editor sends keeps its session.
- When both requests name a file (`filepath`) and the names differ, they are
  different documents, whatever their text.
- Among those that match, the largest share wins, then the most recently
  used. Each tenant keeps at most MAX_PER_TENANT (32) implicit sessions, the
  least recently used forgotten first: a tenant's sessionless editors rarely
  have more documents open at once than that, and a forgotten one costs one
  cold keystroke.

Isolation: an implicit session is the `user` IMPLICIT_USER.format(n) inside
the tenant (`session_key(tenant, user)` as for any session) and the table is
per tenant, so one tenant's sessionless requests never land on another's
state; KV reuse is also bounded by the cache salt, which differs per tenant
unless an operator groups tenants (tenants.py `salt_of`, `--share-cache`). A
client of the same tenant that sends that `user` itself shares its state,
which is only ever its own tenant's. The admin API's drop of a tenant's cache
reaches its implicit sessions' KV states and answers (their keys sit inside
the tenant's), not the last prompts kept here, which only steer matching.

No supersede: two sessionless clients of one tenant may match one implicit
session (two plugins in one file), and must not cancel each other's requests
with a 409 as a session's newer keystroke cancels its older one. So requests
of an implicit session run with `GenerationRequest.supersede` False (the
engines keep them out of their supersede table) and enter the fair queue
without a session (fair.py supersedes and hands slots over by session). The
serving layer tells them by their name (`is_implicit`), so a client that
sends such a `user` itself only gives up superseding its own requests.
The session is chosen once the request is admitted; the serving layer then
teaches it the typing rhythm as any session's (deadlines.py): its soft
deadline, and, while it types steadily, one more typist that the cold windows
are shared with (one client switching documents leaves a session behind per
document, and must not count as several people).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from itertools import count

from ..api.protocol import CompletionRequest
from ..prompt.fitting import anchor_window

MAX_PER_TENANT = 32
SIMILARITY = 0.5
# The `user` an implicit session goes by inside its tenant (header-safe: the gateway forwards sessions).
IMPLICIT_USER = "~sessionless-{}"
_IMPLICIT_HEAD = IMPLICIT_USER.split("{")[0]
# Texts are compared a chunk at a time (a string comparison in C), then bisected within the differing chunk.
_CHUNK = 512


def common_prefix(a: str, b: str) -> int:
    """How many characters `a` and `b` share from their start."""
    n = min(len(a), len(b))
    i = 0
    while i < n:
        j = min(i + _CHUNK, n)
        if a[i:j] != b[i:j]:
            while j - i > 1:  # a[:i] == b[:i], a[:j] != b[:j]
                mid = (i + j) // 2
                if a[i:mid] == b[i:mid]:
                    i = mid
                else:
                    j = mid
            return i
        i = j
    return n


def common_suffix(a: str, b: str) -> int:
    """How many characters `a` and `b` share at their end."""
    la, lb = len(a), len(b)
    n = min(la, lb)
    i = 0
    while i < n:
        j = min(i + _CHUNK, n)
        if a[la - j:la - i] != b[lb - j:lb - i]:
            while j - i > 1:  # the last i characters agree, the last j do not
                mid = (i + j) // 2
                if a[la - mid:la - i] == b[lb - mid:lb - i]:
                    i = mid
                else:
                    j = mid
            return i
        i = j
    return n


def is_implicit(user: str | None) -> bool:
    """Whether `user` names an implicit session: its requests must not supersede each other."""
    return user is not None and user.startswith(_IMPLICIT_HEAD) and user[len(_IMPLICIT_HEAD):].isdigit()


@dataclass
class _Last:
    """An implicit session's last prompt."""

    user: str
    filepath: str | None
    prefix: str  # anchored
    suffix: str

    def share(self, filepath: str | None, prefix: str, suffix: str) -> int | None:
        """Characters this prompt shares with the last one; None where they are not one document."""
        if filepath is not None and self.filepath is not None and filepath != self.filepath:
            return None
        shared = common_prefix(self.prefix, prefix) + common_suffix(self.suffix, suffix)
        longer = max(len(self.prefix) + len(self.suffix), len(prefix) + len(suffix))
        if longer == 0:
            return 0  # two empty prompts: one document, nothing in it yet
        return shared if shared > 0 and shared >= SIMILARITY * longer else None


class ImplicitSessions:
    def __init__(self, max_per_tenant: int = MAX_PER_TENANT) -> None:
        self.max_per_tenant = max_per_tenant
        self._tables: dict[str | None, OrderedDict[str, _Last]] = {}
        self._ids = count(1)

    def __len__(self) -> int:
        return sum(len(t) for t in self._tables.values())

    def user_for(self, tenant: str | None, prefix: str, suffix: str | None = None,
                 filepath: str | None = None) -> str:
        """The `user` of the implicit session this prompt of `tenant` belongs to (a new one if
        none matches); it becomes that session's last prompt, most recently used."""
        table = self._tables.setdefault(tenant, OrderedDict())
        prefix, suffix = anchor_window(prefix), suffix or ""
        best, best_share = None, -1
        for last in reversed(table.values()):  # most recently used first: it wins ties
            share = last.share(filepath, prefix, suffix)
            if share is not None and share > best_share:
                best, best_share = last, share
        if best is None:
            best = _Last(IMPLICIT_USER.format(next(self._ids)), filepath, prefix, suffix)
            table[best.user] = best
            while len(table) > self.max_per_tenant:
                table.popitem(last=False)
        else:
            best.filepath = filepath if filepath is not None else best.filepath
            best.prefix, best.suffix = prefix, suffix
            table.move_to_end(best.user)
        return best.user

    def assign(self, req: CompletionRequest, prompts: list, tenant: str | None) -> CompletionRequest | None:
        """`req` as its implicit session's request (its `user` set), or None when it needs none:
        it has a session of its own, or several prompts (a batch, not an editor)."""
        if req.user is not None or len(prompts) != 1:
            return None
        user = self.user_for(tenant, prompts[0].text, req.suffix, req.filepath)
        return req.model_copy(update={"user": user})

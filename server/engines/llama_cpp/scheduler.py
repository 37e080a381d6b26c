"""The step loop: continuous batching on one context, in one worker thread.

Each step builds one batch and evaluates it with one `llama_decode`:
1. requests that were cancelled, superseded or left by their client are
   dropped (their sequence is free for this very step), and so are those
   whose hard deadline can no longer be met (`deadlines.py`; DeadlineMissed);
2. waiting requests get a sequence, earliest deadline first, as long as
   one is free or idle (`slots.py`);
3. the deadline planner (`deadlines.py`) picks which running requests this
   step advances: earliest deadline first, as many side by side as the
   measured step costs (`costs.py`) say finish most of them in time;
4. of those, every generating sequence adds its next token, and with
   speculation its prompt-lookup draft (decode first: a long prompt never
   stalls anyone's next token);
5. sequences still reading their prompt add chunks of it, as many tokens as
   the step's decoding requests' deadlines can spare (chunks sized in time),
   within the per-step token budget (chunked prefill);
6. only when nothing interactive has come for `grow_after` seconds, a cold
   window's full prompt is evaluated a chunk at a time (low-priority
   prefill): a request that comes meanwhile waits at most one chunk. (Not in
   the spare budget of interactive steps: on a CPU a step costs about its
   tokens, so a chunk there would slow every sequence in the step.)
Requests join and leave between steps. Every step is timed, and the costs
the planner uses follow what it measured. llama.cpp releases the GIL while it
computes, so the event loop stays responsive.
"""

from __future__ import annotations

import logging
import queue
import time
from collections import OrderedDict, deque
from collections.abc import Callable

from ...tenants import salt_covers
from ..base import DeadlineMissed, GenerationRequest
from . import deadlines
from .costs import AnswerLengths, StepCosts
from .decoding import Decoder
from .growth import Growth
from .jobs import DONE, Job, Running, tenant_of
from .shares import StepShares
from .slots import Slots, common_prefix
from .stats import EngineStats

log = logging.getLogger("codefill.engine.llama_cpp")

# A request waits for another that is computing a head of at least this many tokens it shares.
FOLLOW_MIN = 64


class StepLoop:
    def __init__(self, context, slots: Slots, *, n_ctx: int, step_tokens: int, cold_saving: int,
                 new_decoder, stats: EngineStats, grow_after: float = 0.0) -> None:
        self.context = context
        self.slots = slots
        self.n_ctx = n_ctx
        self.step_tokens = step_tokens
        self.cold_saving = cold_saving
        self.new_decoder = new_decoder  # (request, result, prompt) -> Decoder
        self.stats = stats
        self.jobs: queue.Queue[Job | None] = queue.Queue()
        self.waiting: deque[Job] = deque()
        self.running: list[Running] = []
        self.growth: Growth | None = None
        # A cold window grows only after this long without interactive work: an editor's next
        # keystroke usually comes sooner, and then it does not wait for a growth chunk.
        self.grow_after = grow_after
        self.last_busy = 0.0
        self.shares = StepShares()
        self.costs = StepCosts()
        self.lengths = AnswerLengths()
        # (tenant, cache salt, session) -> when its last request, given up unanswered, was last advanced: the
        # session's next request has waited since then. `STARVE_S` counts per editor, not per keystroke: a
        # typist whose every keystroke is superseded before its prompt gets a step would otherwise never get one.
        self.unserved: OrderedDict[tuple, float] = OrderedDict()
        # Measures the step costs afresh (the engine's probe), and whether they are to be: a request was
        # dropped as infeasible and no step has been timed since. Costs measured while the machine was busy
        # (another process computing) would otherwise drop every hard deadline, and with nothing run, nothing
        # would correct them.
        self.measure: Callable[[], None] | None = None
        self.remeasure = False
        self._plan_seen: tuple = ([], set(), 0)  # the last step's plan, for the debug trace

    # -- the loop --------------------------------------------------------------

    def run(self) -> None:
        while self._take_jobs():
            self.safe_step()
        for job in [*self.waiting, *(r.job for r in self.running)]:
            job.result.finish_reason = job.result.finish_reason or "cancelled"
            job.emit(DONE)

    def _take_jobs(self) -> bool:
        if self.running or self.waiting:
            wait: float | None = 0.0
        elif self.growth is not None:  # until the growth is due
            wait = max(0.0, self.last_busy + self.grow_after - time.monotonic())
        else:
            if self.remeasure and self.measure is not None:  # idle after dropping: are the costs right?
                self.remeasure = False
                self.measure()
            wait = None  # nothing to do but wait for a request
        while True:
            try:
                job = self.jobs.get(timeout=wait) if wait != 0.0 else self.jobs.get_nowait()
            except queue.Empty:
                return True
            if job is None:
                return False
            if callable(job):  # work between steps (the admin API's drop)
                job()
                continue
            self.waiting.append(job)
            wait = 0.0

    def drop(self, salt: str | None, session: str | None) -> int:
        """Forget the KV states of one session, or of every session of a cache salt; worker thread
        only, between steps."""
        def matches(key: tuple) -> bool:
            return key[1] == session if session is not None else salt_covers(salt, key[0])

        if self.growth is not None and matches(self.growth.key):
            self.growth = None
        return self.slots.drop(matches)

    def safe_step(self) -> None:
        """A step whose failure is reported to the requests in it and never kills the worker."""
        try:
            self.step()
        except Exception as exc:
            log.exception("engine step failed")
            for r in list(self.running):
                r.job.emit(exc)
                self._finish(r)
            self.growth = None
            for slot in self.slots.slots:  # what the failed step wrote is not to be trusted
                if slot.busy or slot.tokens:
                    self.slots.truncate(slot, 0)
                    self.slots.release(slot, time.monotonic())

    def step(self) -> None:
        now = time.monotonic()
        for r in list(self.running):
            if r.job.cancelled.is_set():  # a filter saw the whole answer ("stop"), or nobody wants it
                self._finish(r, None if r.job.result.finish_reason == "stop" else "cancelled")
        for job in list(self.waiting):
            if job.cancelled.is_set():
                self.waiting.remove(job)
                job.result.finish_reason = "cancelled"
                job.emit(DONE)
        self._drop_missed(now)
        for job in sorted(self.waiting, key=lambda j: j.deadline):  # earliest deadline first
            if self._follows(job):
                continue
            try:
                placed = self._place(job, now)
            except Exception as exc:  # this request's failure, not the others'
                log.exception("placing a request failed")
                self.waiting.remove(job)
                job.emit(exc)
                job.emit(DONE)
                continue
            if placed is None:
                break
            self.waiting.remove(job)
            self.stats.queue_wait.observe(now - job.arrived)
            placed.served_at = self._waited_since(job, now)
            self.running.append(placed)
        self._shrink()
        entries = self._build(now)
        growth = None
        if self.running or self.waiting:
            self.last_busy = now
        elif not entries and self.growth is not None and now - self.last_busy >= self.grow_after:
            growth, entries = self.growth.entries(self.slots, self.stats, now)
            if not entries:  # no slot to grow it in: give up rather than spin
                self.growth = None
        if not entries:
            return
        started = time.monotonic()
        rc = self.context.decode(entries)
        if rc != 0:
            raise RuntimeError(f"llama_decode failed ({rc}): the KV cache has no room for this step")
        self.stats.counters["steps"] += 1
        self.stats.step_tokens.observe(len(entries))
        self.stats.step_sequences.observe(len({e[0] for e in entries}))
        if growth is not None:
            if self.growth.grown(self.slots, self.stats, growth, [e[2] for e in entries]):
                self.growth = None
            self.costs.observe(1, len(entries) - 1, time.monotonic() - started)  # a step's own cost, and tokens
            return
        stepped = [r for r in self.running if r.batch]
        width = sum(r.pending is not None for r in stepped)
        for r in stepped:
            r.served_at = started
            self._advance(r)
        self.last_busy = time.monotonic()
        width = max(width, 1)  # a step of prompt chunks alone costs one step and its further tokens
        expected = self.costs.step(width, len(entries) - width) if log.isEnabledFor(logging.DEBUG) else 0.0
        self.costs.observe(width, len(entries) - width, self.last_busy - started)
        self.remeasure = False
        if log.isEnabledFor(logging.DEBUG):
            self._trace_step(now, width, len(entries), self.last_busy - started, expected)

    def _trace_step(self, now: float, width: int, tokens: int, seconds: float, expected: float) -> None:
        """A step as the planner saw it, for `--log-level debug`: its time and the time the costs expected
        of it, then per running request its session, ms to its deadline, prompt tokens left, answer tokens
        expected, whether it was feasible and chosen."""
        works, chosen, waiting = self._plan_seen
        parts = [f"{w.handle.job.request.session or '-'}:{1000 * (w.deadline - now):.0f}ms"
                 f"/p{w.prefill}/t{w.tokens}{'' if deadlines.feasible(w, now, self.costs) else '!'}"
                 f"{'*' if id(w) in chosen else ''}" for w in works]
        log.debug("step %d: %.1f ms (expected %.1f), %d decoding, %d tokens, %d waiting; costs %.1f ms + %.2f ms "
                  "a chunk's token; %s", self.stats.counters["steps"], 1000 * seconds, 1000 * expected, width, tokens,
                  waiting, 1000 * self.costs.decode(1), 1000 * self.costs.per_token, " ".join(parts))

    # -- deadlines ---------------------------------------------------------------

    def _drop_missed(self, now: float) -> None:
        """Drop the requests whose hard deadline can no longer be met, even run alone (deadlines.py)."""
        for r in list(self.running):
            if deadlines.must_drop(r.work(self.lengths), now, self.costs):
                self._missed(r.job)
                self._finish(r, "deadline")
        for job in list(self.waiting):
            req = job.request
            if not (req.deadline_hard and req.deadline is not None):
                continue
            prompt = min(cost for _, _, cost in self._prompts(req).values())
            answer = self.lengths.left(0, req.max_tokens, req.tenant or "")
            work = deadlines.Work(job, req.deadline, max(prompt, 1), answer, True)
            if deadlines.must_drop(work, now, self.costs):
                self.waiting.remove(job)
                self._missed(job)
                job.result.finish_reason = "deadline"
                job.emit(DONE)

    def _missed(self, job: Job) -> None:
        self.stats.counters["deadline_dropped"] += 1
        self.remeasure = True
        job.emit(DeadlineMissed())

    # -- placing a request -------------------------------------------------------

    def _follows(self, job: Job) -> bool:
        """Whether `job` waits for a request of its cache salt that is reading a prompt
        with the same head (n > 1, two sessions opening one file): it then takes that
        head with seq_cp instead of computing it a second time alongside."""
        req = job.request
        tokens = req.prompt_tokens
        for r in self.running:
            if r.pending is None and r.job.request.cache_salt == req.cache_salt:
                head = common_prefix(r.prompt, tokens)
                if head >= FOLLOW_MIN and r.done < head:
                    return True
        return False

    def _prompts(self, req: GenerationRequest) -> dict[str, tuple[tuple, list[int], int]]:
        """The prompts `req` may be answered from, by kind ("full", and the short ones "cold", "kept" and
        "small", which share the session's short-window state): each one's state key, tokens, and tokens left
        to evaluate after what the cache holds."""
        salt = req.cache_salt
        out = {}
        for kind, tokens in (("full", req.prompt_tokens), ("cold", req.cold_tokens), ("kept", req.kept_tokens),
                             ("small", req.small_tokens)):
            if kind == "full" or tokens:
                key = (salt, req.session, "full" if kind == "full" else "cold")
                out[kind] = (key, tokens, len(tokens) - self.slots.reusable(key, salt, tokens))
        return out

    def _place(self, job: Job, now: float) -> Running | None:
        """A sequence for `job`, with its prompt's cached head; None while all are busy.
        With a cold window, the short prompt is chosen when the full one would cost
        more than `cold_saving` tokens beyond it, and the full one grows later. Of the
        short prompts, this keystroke's window and the session's last one grown to
        the cursor (kept), and, while other sessions share the engine, the smallest
        window (small), the one that leaves the fewest tokens to evaluate is chosen; on
        a tie, in that order."""
        req = job.request
        salt = req.cache_salt
        prompts = self._prompts(req)
        cost = {kind: c for kind, (_, _, c) in prompts.items()}
        shorts = ("cold", "kept", "small") if self._shared(job) else ("cold", "kept")
        short = min((k for k in shorts if k in cost), key=lambda k: (cost[k], shorts.index(k)), default=None)
        kind = short if short is not None and cost["full"] - cost[short] > self.cold_saving else "full"
        key, tokens, _ = prompts[kind]
        tokens = list(tokens)
        placed = self.slots.acquire(key, salt, tokens, now)
        if placed is None:
            return None
        if log.isEnabledFor(logging.DEBUG):
            log.debug("placed %s: %s prompt, %d tokens to evaluate (full %d of %d, cold %s, kept %s, small %s)",
                      req.session or "-", kind, cost[kind], cost["full"], len(req.prompt_tokens),
                      *(f"{cost[k]} of {len(prompts[k][1])}" if k in prompts else "none"
                        for k in ("cold", "kept", "small")))
        if kind != "full":
            self.growth = Growth((salt, req.session, "full"), salt, list(req.prompt_tokens))
        elif self.growth is not None and self.growth.key == (salt, req.session, "full"):
            self.growth = None
        self.stats.counters["shared_prefix_tokens"] += placed.shared
        decoder = self._answer_from(job, kind, tokens, placed.cached)
        if placed.continuation:
            decoder.foresee(placed.continuation)
            self.stats.counters["forecasts"] += 1
            log.debug("forecast for %s: %d tokens", req.session or "-", len(placed.continuation))
        return Running(job, placed.slot, tokens, placed.cached, decoder, kind=kind)

    def _shared(self, job: Job) -> bool:
        """Whether another session has a request in the engine (running or waiting) beside `job`."""
        key = _session_key(job)
        return any(other is not job and (key[2] is None or _session_key(other) != key)
                   for other in [*self.waiting, *(r.job for r in self.running)])

    def _shrink(self) -> None:
        """A request still reading a longer cold window (placed while it had the engine to itself) moves to
        its smallest one once other sessions share the engine, where that leaves fewer tokens to evaluate
        than what is left of its window: the sessions that came meanwhile were given windows sized for
        them all, and the one that came first would otherwise cost them its longer prefill."""
        for r in self.running:
            small = r.job.request.small_tokens
            if r.pending is not None or r.kind not in ("cold", "kept") or not small or not self._shared(r.job):
                continue
            held = min(common_prefix(r.slot.tokens, small), len(small) - 1)
            if len(small) - held >= len(r.prompt) - r.done:
                continue
            log.debug("shrunk %s: small prompt, %d tokens to evaluate instead of %d", r.job.request.session or "-",
                      len(small) - held, len(r.prompt) - r.done)
            self.slots.truncate(r.slot, held)
            r.prompt, r.done, r.kind = list(small), held, "small"
            r.decoder = self._answer_from(r.job, "small", r.prompt, held)
            self.stats.counters["cold_shrunk"] += 1

    def _answer_from(self, job: Job, kind: str, tokens: list[int], cached: int) -> Decoder:
        """`job` is answered from its `kind` of prompt, `tokens` of which `cached` are in its sequence: the
        result says so, and the decoder reads that prompt."""
        result = job.result
        result.cold_window = kind != "full"
        result.cold_kept = kind == "kept"
        result.cold_small = kind == "small"
        result.prompt_tokens, result.cached_prompt_tokens = len(tokens), cached
        return self.new_decoder(job.request, result, tokens)

    # -- building a step ---------------------------------------------------------

    def _build(self, now: float) -> list[tuple[int, int, int, bool]]:
        """One step's batch: the requests the deadline planner picks; of them, decode first (a token, and
        a draft, for every generating sequence), then prompt chunks as long as the decoding requests'
        deadlines allow, within the token budget and each tenant's share of it (`shares.py`)."""
        budget = self.step_tokens
        for r in [r for r in self.running if r.pending is not None]:
            if len(r.slot.tokens) + 1 > self.n_ctx:  # the sequence's window is full
                self._finish(r, "length")
        works = [r.work(self.lengths) for r in self.running]
        chosen = deadlines.plan(works, now, self.costs, max_width=len(works))
        if log.isEnabledFor(logging.DEBUG):
            self._plan_seen = (works, {id(w) for w in chosen}, len(self.waiting))
        members = [w.handle for w in chosen]
        # Most urgent first (the planner's order); a tenant held to a small share takes turns.
        decoding = sorted((r for r in members if r.pending is not None), key=lambda r: r.served)
        decoding.sort(key=lambda r: r.job.deadline)
        prompt_room = budget
        if decoding:  # they wait for this step's prompt chunks: sized in time, as their deadlines allow
            seconds = deadlines.chunk_seconds([w for w in chosen if w.handle.pending is not None], now, self.costs)
            if seconds is not None:
                prompt_room = self.costs.room(len(decoding), seconds, budget)
        wants: dict[int, list[int]] = {}
        left = budget
        for i, r in enumerate(decoding):
            # Room for a draft: the budget left after one token for each sequence still to come.
            room = min(left - (len(decoding) - i), self.n_ctx - len(r.slot.tokens) - 1)
            wants[id(r)] = [r.pending, *r.decoder.drafts(room)]
            left -= len(wants[id(r)])
        def want(r: Running) -> int:  # a prompt's: what is left of it, and the forecast's drafts with its last token
            if r.pending is not None:
                return len(wants[id(r)])
            return len(r.prompt) - r.done + len(r.decoder.first_drafts(budget))

        allowed = self.shares.split([(tenant_of(r), want(r), r.job.request.weight) for r in members], budget)
        # Every generating sequence its next token, as far as its tenant's share goes; then the drafts.
        for r in decoding:
            tenant = tenant_of(r)
            if allowed[tenant] >= 1:
                r.batch = wants[id(r)][:1]
                allowed[tenant] -= 1
                r.served = self.stats.counters["steps"] + 1
            else:
                r.batch = []
        for r in decoding:
            tenant = tenant_of(r)
            if r.batch and allowed[tenant] > 0:
                more = wants[id(r)][1 : 1 + allowed[tenant]]
                r.batch += more
                allowed[tenant] -= len(more)
        entries: list[tuple[int, int, int, bool]] = []
        for r in decoding:
            if not r.batch:
                continue
            n_past = len(r.slot.tokens)
            r.row = len(entries)
            want_all = len(r.batch) > 1
            entries += [(r.slot.seq, n_past + k, t, want_all or k == len(r.batch) - 1) for k, t in enumerate(r.batch)]
        budget -= len(entries)
        for r in self.running:
            if r not in members:
                r.batch = []
        for r in members:
            if r.pending is not None or r not in self.running:
                continue
            tenant = tenant_of(r)
            room = min(budget, allowed.get(tenant, 0), prompt_room)
            chunk = r.prompt[r.done : r.done + room] if room > 0 else []
            if not chunk:
                r.batch = []
                continue
            last = r.done + len(chunk) == len(r.prompt)
            # With the prompt's last token, the forecast's first tokens (decoding.py `foresee`): checked
            # against the answer's first tokens in this same step.
            drafts = r.decoder.first_drafts(room - len(chunk)) if last else []
            r.batch = chunk + drafts
            r.row = len(entries)
            entries += [(r.slot.seq, r.done + k, t, last and k == len(chunk) - 1) for k, t in enumerate(chunk)]
            entries += [(r.slot.seq, r.done + len(chunk) + k, t, True) for k, t in enumerate(drafts)]
            budget -= len(chunk) + len(drafts)
            prompt_room -= len(chunk) + len(drafts)
            allowed[tenant] -= len(chunk) + len(drafts)
        return entries

    # -- after a step ------------------------------------------------------------

    def _advance(self, r: Running) -> None:
        batch, r.batch = r.batch, []
        n_past = len(r.slot.tokens)
        r.slot.tokens.extend(batch)
        if r.pending is None:  # reading the prompt (and, with its last token, maybe drafts after it)
            read = min(len(batch), len(r.prompt) - r.done)
            r.done += read
            if r.done < len(r.prompt):
                return
            if r.job.request.max_tokens == 0:
                self.slots.truncate(r.slot, n_past + read)
                self._finish(r, "length")
                return
            self._verify(r, r.row + read - 1, batch[read:], n_past + read)
            return
        self._verify(r, r.row, batch[1:], n_past + 1)

    def _verify(self, r: Running, row: int, drafts: list[int], kept: int) -> None:
        """The tokens from logits `row` on: the model's pick there, and after each draft it agrees with,
        its pick after that draft; the drafts' cells past the first disagreement are removed (the slot
        keeps `kept` cells and the accepted drafts). Then handed out; the last is the next step's."""
        decoder = r.decoder
        forecast = decoder.forecast_left() > 0  # the drafts are the forecast's, else prompt lookup's
        picks = [decoder.pick(self.context.logits(row))]
        if drafts:
            while len(picks) <= len(drafts) and picks[-1] == drafts[len(picks) - 1]:
                picks.append(decoder.pick(self.context.logits(row + len(picks))))
            accepted = len(picks) - 1
            if forecast:
                self.stats.counters["forecast_drafted"] += len(drafts)
                self.stats.counters["forecast_accepted"] += accepted
            else:
                r.job.result.draft_tokens += len(drafts)
                r.job.result.accepted_draft_tokens += accepted
            self.slots.truncate(r.slot, kept + accepted)
        for k, token in enumerate(picks):
            if not self._emit(r, token, row + k):
                return
        r.pending = picks[-1]

    def _emit(self, r: Running, token: int, row: int) -> bool:
        job = r.job
        before = job.result.completion_tokens
        logits = self.context.logits(row) if job.request.top_logprobs is not None else None
        alive = r.decoder.emit(token, logits, job.emit)
        if job.result.completion_tokens > before:
            now = time.monotonic()
            if before == 0:
                self.stats.ttft.observe(now - job.arrived)
            else:
                self.stats.tpot.observe(now - job.last_token)
            job.last_token = now
        if not alive:
            self._finish(r)
        return alive

    def _waited_since(self, job: Job, now: float) -> float:
        """Since when `job`'s session has waited for a step: since its last request was advanced when that
        one was given up unanswered within `deadlines.STARVE_CHAIN_S`, else since now."""
        since = self.unserved.pop(_session_key(job), None)
        return since if since is not None and now - since <= deadlines.STARVE_CHAIN_S else now

    def _unserved(self, r: Running, now: float) -> None:
        """`r` is given up before its answer: its session's next request inherits its wait."""
        if r.job.request.session is None:
            return
        key = _session_key(r.job)
        self.unserved[key] = r.served_at
        self.unserved.move_to_end(key)
        while self.unserved and now - next(iter(self.unserved.values())) > deadlines.STARVE_CHAIN_S:
            self.unserved.popitem(last=False)

    def _finish(self, r: Running, reason: str | None = None) -> None:
        if reason is not None:
            r.job.result.finish_reason = reason
        if r.job.result.finish_reason == "cancelled" and not r.job.result.completion_tokens:
            self._unserved(r, time.monotonic())
        if log.isEnabledFor(logging.DEBUG):
            result = r.job.result
            log.debug("finished %s: %s, %d tokens, %.0f ms after its deadline", r.job.request.session or "-",
                      result.finish_reason, result.completion_tokens, 1000 * (time.monotonic() - r.job.deadline))
        # How long answers are: a complete one, or one left while decoding (at least as long as it got).
        self.lengths.observe(r.job.result.completion_tokens, r.job.result.finish_reason in ("stop", "length"),
                             tenant_of(r))
        r.batch = []
        if r in self.running:
            self.running.remove(r)
        self.slots.release(r.slot, time.monotonic())
        r.job.emit(DONE)


def _session_key(job: Job) -> tuple:
    req = job.request
    return (req.tenant or "", req.cache_salt, req.session)

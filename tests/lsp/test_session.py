"""One request at a time per editor session: a newer one supersedes the
older (which answers None), and the editor's own cancel propagates."""

from __future__ import annotations

import asyncio

import pytest

from codefill.lsp.session import Session


def slow_work(stopped: asyncio.Event):
    """Work that would take 30 s; `stopped` is set when it ends (cancelled, here)."""
    async def slow():
        try:
            await asyncio.sleep(30)
        finally:
            stopped.set()
        return "old"
    return slow


async def test_newer_call_supersedes_the_older():
    session = Session()
    stopped = asyncio.Event()

    async def fast():
        return "new"

    older = asyncio.create_task(session.latest(slow_work(stopped)))
    await asyncio.sleep(0.01)
    assert await session.latest(fast) == "new"
    assert await older is None  # superseded: an empty answer, not an error
    assert stopped.is_set()  # and its work was cancelled, not left running


async def test_the_callers_cancel_reaches_the_work_and_propagates():
    session = Session()
    stopped = asyncio.Event()
    handler = asyncio.create_task(session.latest(slow_work(stopped)))
    await asyncio.sleep(0.01)
    handler.cancel()
    with pytest.raises(asyncio.CancelledError):
        await handler
    assert stopped.is_set()


async def test_debounce_lets_a_quick_successor_skip_the_work():
    session = Session()
    ran = []

    async def work(name):
        ran.append(name)
        return name

    first = asyncio.create_task(session.latest(lambda: work("first"), debounce_s=0.2))
    await asyncio.sleep(0.01)
    assert await session.latest(lambda: work("second"), debounce_s=0.2) == "second"
    assert await first is None
    assert ran == ["second"]


def test_session_ids_are_stable_per_session_and_distinct_between_sessions():
    a, b = Session(), Session()
    assert a.id == a.id and a.id != b.id and a.id.startswith("codefill-lsp-")


async def test_lanes_supersede_only_their_own_older_call():
    """A next edit and a completion run side by side; each is superseded
    only by a newer call of its own lane, and cancel(lane) reaches one lane."""
    session = Session()
    completion_stopped, next_edit_stopped = asyncio.Event(), asyncio.Event()
    completion = asyncio.create_task(session.latest(slow_work(completion_stopped)))
    next_edit = asyncio.create_task(session.latest(slow_work(next_edit_stopped), lane="next_edit"))
    await asyncio.sleep(0.01)

    async def fast():
        return "new"

    assert await session.latest(fast, lane="next_edit") == "new"
    assert await next_edit is None and next_edit_stopped.is_set()
    assert not completion.done()
    session.cancel("next_edit")  # nothing in flight there any more: the completion goes on
    await asyncio.sleep(0.01)
    assert not completion.done()
    session.cancel("completion")
    assert await completion is None and completion_stopped.is_set()

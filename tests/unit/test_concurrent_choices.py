"""`n > 1` and prompt lists run side by side (the engine batches them), with a scripted engine."""

import asyncio

from codefill.server.service.concurrent import merged
from tests.fakes import FakeEngine
from tests.helpers import MODEL, make_client, post, wait_ready


class Rendezvous(FakeEngine):
    """Answers only once `parties` requests are generating at the same time: one after another never gets there."""

    def __init__(self, parties: int) -> None:
        super().__init__("ab")
        self.parties = parties
        self.started = 0
        self.sessions = []

    async def generate(self, request, result):
        self.started += 1
        self.sessions.append(request.session)
        for _ in range(200):
            if self.started >= self.parties:
                break
            await asyncio.sleep(0.01)
        else:
            raise AssertionError("choices ran one after another")
        async for token in super().generate(request, result):
            yield token


def test_n_choices_generate_at_the_same_time_and_only_the_first_carries_the_session():
    engine = Rendezvous(3)
    with make_client(engine) as c:
        wait_ready(c)
        r = post(c, {"model": MODEL, "prompt": "x", "n": 3, "max_tokens": 2, "user": "dev"})
    assert r.status_code == 200, r.text
    assert sorted(ch["index"] for ch in r.json()["choices"]) == [0, 1, 2]
    assert all(ch["text"] == "ab" for ch in r.json()["choices"])
    assert engine.sessions.count(None) == 2 and len(set(engine.sessions)) == 2


def test_a_prompt_list_streams_its_choices_interleaved():
    engine = Rendezvous(2)
    with make_client(engine) as c:
        wait_ready(c)
        r = post(c, {"model": MODEL, "prompt": ["x", "y"], "max_tokens": 2, "stream": True})
    assert r.status_code == 200 and r.text.rstrip().endswith("data: [DONE]")


def test_an_error_in_one_stream_stops_the_others():
    closed = []

    async def good():
        try:
            while True:
                yield 1
                await asyncio.sleep(0.01)
        finally:
            closed.append("good")

    async def bad():
        yield 2
        raise ValueError("boom")

    async def go():
        seen = []
        try:
            async for item in merged([good(), bad()]):
                seen.append(item)
        except ValueError:
            return seen
        raise AssertionError("no error")

    seen = asyncio.run(go())
    assert 2 in seen and closed == ["good"]

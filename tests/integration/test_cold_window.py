"""The cold window over real HTTP, with the real `openai` client and the real default model:
the first keystroke at a new place is answered from a short window, the next
keystroke right after it reuses that, and after a pause the full window is in
the cache."""

import re
import time

import httpx
import openai
import pytest

from codefill.bench.workload import stdlib_file
from tests.helpers import start_server, stop_server

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def server():
    s = start_server("--cold-window", "256", name="cold-window")
    yield s
    stop_server(s)


def metric(server, name: str) -> float:
    text = httpx.get(server.url + "/metrics", timeout=10).text
    found = re.search(rf"^{name} ([0-9.e+]+)$", text, re.M)
    return float(found.group(1)) if found else 0.0


def test_first_keystroke_is_cold_then_the_full_window_grows_while_the_user_pauses(server):
    client = openai.OpenAI(base_url=server.base_url, api_key="unused", max_retries=0)
    lines = stdlib_file("textwrap.py").read_text().split("\n")
    prefix = "\n".join(lines[200:320]) + "\n        "
    suffix = "\n" + "\n".join(lines[321:360])

    def keystroke(typed: str):
        started = time.perf_counter()
        answer = client.completions.create(model=server.model, prompt=prefix + typed, suffix=suffix,
                                           max_tokens=16, temperature=0, user="grace")
        return answer, time.perf_counter() - started

    first, first_s = keystroke("")
    assert metric(server, "codefill_completions_cold_window_total") == 1
    second, second_s = keystroke("if ")
    assert metric(server, "codefill_completions_cold_window_total") == 2
    assert second.usage.prompt_tokens < 500  # the short window, not the ~900-token one
    assert second.usage.prompt_tokens_details.cached_tokens >= second.usage.prompt_tokens - 8
    # The user pauses: the server evaluates the full window in the background.
    deadline = time.monotonic() + 60
    while metric(server, "codefill_cold_windows_grown_total") < 1 and time.monotonic() < deadline:
        time.sleep(0.25)
    assert metric(server, "codefill_cold_windows_grown_total") == 1
    assert metric(server, "codefill_cold_window_grown_tokens_total") > 800
    assert metric(server, "codefill_cold_window_growth_pending") == 0
    # A keystroke the second answer did not foresee, so it reaches the engine (typing through an
    # answer is answered from memory, with no prompt at all).
    typed = next(word for word in ("self", "not ", "len(") if not second.choices[0].text.startswith(word[0]))
    third, _ = keystroke("if " + typed)
    assert metric(server, "codefill_completions_cold_window_total") == 2  # the full window served it
    assert third.usage.prompt_tokens > 2 * second.usage.prompt_tokens
    assert third.usage.prompt_tokens_details.cached_tokens >= third.usage.prompt_tokens - 8
    assert first.choices[0].finish_reason in ("stop", "length")
    print(f"cold keystroke {first_s:.2f}s, next {second_s:.2f}s")


def test_a_cold_window_whose_start_moved_is_kept_where_its_cache_is():
    """Twenty lines typed below a cold window move its content-defined start out of reach (the start is
    winnowed among the 16 lines around the point the target is reached), so a window started anew would
    be evaluated from scratch. The server offers the session's last window grown to the cursor beside it,
    and the engine takes that one: only the new lines are evaluated. Another session typing the same
    text has no kept window and evaluates its own from scratch."""
    server = start_server("--cold-window", "256", "--grow-after", "600", name="cold-window-kept")
    try:
        client = openai.OpenAI(base_url=server.base_url, api_key="unused", max_retries=0)
        lines = stdlib_file("textwrap.py").read_text().split("\n")

        def keystroke(end: int, user: str):
            prefix = "\n".join(lines[200:end]) + "\n"
            return client.completions.create(model=server.model, prompt=prefix, suffix="\n", max_tokens=4,
                                             temperature=0, user=user)

        first = keystroke(320, "ada")
        assert metric(server, "codefill_completions_cold_window_total") == 1
        assert 150 < first.usage.prompt_tokens < 500  # the cold window, not the ~900-token prompt
        later = keystroke(340, "ada")
        assert metric(server, "codefill_completions_cold_window_total") == 2
        assert metric(server, "codefill_completions_cold_window_kept_total") == 1
        assert later.usage.prompt_tokens > first.usage.prompt_tokens  # the first window and the new lines
        assert later.usage.prompt_tokens_details.cached_tokens >= first.usage.prompt_tokens - 8
        # The same keystroke from a session with no window of its own: a new window, nothing of it cached.
        other = keystroke(340, "bo")
        assert metric(server, "codefill_completions_cold_window_kept_total") == 1
        assert other.usage.prompt_tokens < later.usage.prompt_tokens
        assert other.usage.prompt_tokens_details.cached_tokens < 16
    finally:
        stop_server(server)


def test_typists_who_start_together_all_get_windows_sized_for_all_of_them():
    """Four typists open four places at the same moment. However the requests come in (in one turn of the
    server's event loop, or one after another while the first is being read), none is left with a window
    sized for one typist: each prompt is the share of a team (the first, if it was placed alone, moves to
    its smallest window once the others come). Alone, one typist gets the longer window."""
    import asyncio

    server = start_server("--grow-after", "600", name="cold-window-team")
    try:
        lines = stdlib_file("argparse.py").read_text().split("\n")
        places = [(400 + 300 * i, f"typist-{i}") for i in range(4)]

        async def keystroke(client, end: int, user: str):
            prefix = "\n".join(lines[end - 150:end]) + "\n"
            return await client.completions.create(model=server.model, prompt=prefix, suffix="\n" + lines[end],
                                                   max_tokens=4, temperature=0, user=user)

        async def together():
            async with openai.AsyncOpenAI(base_url=server.base_url, api_key="unused", max_retries=0) as client:
                return await asyncio.gather(*(keystroke(client, end, user) for end, user in places))

        answers = asyncio.run(together())
        sizes = [a.usage.prompt_tokens for a in answers]
        assert metric(server, "codefill_completions_cold_window_total") == 4
        assert max(sizes) < 300, sizes  # the share of three or more typists (128 tokens and the suffix's)
        time.sleep(3.5)  # the four have stopped typing (a pause): one typist alone now

        async def alone():
            async with openai.AsyncOpenAI(base_url=server.base_url, api_key="unused", max_retries=0) as client:
                return await keystroke(client, 1700, "typist-9")

        single = asyncio.run(alone())
        assert single.usage.prompt_tokens > 350, single.usage.prompt_tokens  # the one-typist window (384)
    finally:
        stop_server(server)

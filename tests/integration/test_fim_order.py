"""PSM vs SPM on the real engine: with the suffix first, a keystroke recomputes only
what was typed; with the prefix first, the whole suffix after it as well.

The default model has no FIM tokens, so the StarCoder layout is forced on it
(`--fim-family starcoder`): its answers mean nothing here, but the KV-cache
reuse the layouts allow is the engine's real behaviour."""

import httpx
import pytest

from codefill.bench.workload import stdlib_file
from tests.helpers import start_server, stop_server

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module", params=["psm", "spm"])
def server(request):
    # Without token healing: it takes a half-typed word back out of the prompt, so "x = s" and "x = se" would
    # send the same prompt and hide what the layout alone does to reuse. Without the cold window: the
    # first keystroke would evaluate a shorter prompt than the next ones.
    srv = start_server("--fim-family", "starcoder", "--fim-order", request.param, "--no-token-healing",
                       "--cold-window", "0",
                       name=f"fim-{request.param}")
    yield request.param, srv
    stop_server(srv)


def test_keystroke_reuse_by_order(server):
    order, srv = server
    lines = stdlib_file("textwrap.py").read_text().split("\n")
    prefix = "\n".join(lines[100:150]) + "\n    x = "
    suffix = "\n" + "\n".join(lines[150:175])
    usage = []
    for typed in ("", "s", "se"):
        body = {"model": srv.model, "prompt": prefix + typed, "suffix": suffix, "max_tokens": 0, "user": "u1"}
        r = httpx.post(srv.base_url + "/completions", json=body, timeout=300)
        assert r.status_code == 200, r.text
        usage.append(r.json()["usage"])
    for before, after in zip(usage, usage[1:]):
        recomputed = after["prompt_tokens"] - after["prompt_tokens_details"]["cached_tokens"]
        if order == "spm":
            assert recomputed <= 4, after  # the typed character (and a re-merged token)
        else:
            assert recomputed >= 100, after  # the ~25 suffix lines after the prefix's end, every keystroke

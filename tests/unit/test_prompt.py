"""Fitting prefix + suffix into the context window (one char = one token here)."""

from codefill.server.prompt.families import FAMILIES
from codefill.server.prompt.fitting import build_prompt
from tests.fakes import FakeEngine

STARCODER = FAMILIES["starcoder"]
NONE = FAMILIES["none"]


def engine():
    return FakeEngine(special_tokens=STARCODER.markers)


def test_fits_untouched():
    e = engine()
    built = build_prompt(e, STARCODER, "abc", "xyz", budget=100)
    assert e.detokenize(built.tokens) == "<fim_prefix>abc<fim_suffix>xyz<fim_middle>"
    assert not built.trimmed


def test_markers_become_special_tokens_and_text_does_not():
    e = engine()
    built = build_prompt(e, STARCODER, "s = '<fim_middle>'", "", budget=100)
    assert built.tokens.count(-3) == 1  # only the template's own <fim_middle>


def test_trims_far_ends_on_line_boundaries():
    e = engine()
    prefix = "".join(f"p{i:03}\n" for i in range(100))  # 5 chars a line
    suffix = "".join(f"s{i:03}\n" for i in range(100))
    built = build_prompt(e, STARCODER, prefix, suffix, budget=103)
    assert len(built.tokens) <= 103
    assert built.prefix.endswith("p099\n") and built.prefix.startswith("p")  # whole lines, nearest kept
    assert built.suffix.startswith("s000\n") and built.suffix.endswith("\n")
    assert len(built.suffix) <= 0.25 * 100  # the suffix gets at most a quarter
    assert built.trimmed_prefix_chars + len(built.prefix) == len(prefix)


def test_short_suffix_leaves_room_to_prefix():
    e = engine()
    prefix = "x\n" * 500
    built = build_prompt(e, STARCODER, prefix, "end\n", budget=203)
    assert built.suffix == "end\n"
    assert len(built.tokens) <= 203 and len(built.tokens) >= 200


def test_one_enormous_line_keeps_the_characters_nearest_the_cursor():
    e = engine()
    built = build_prompt(e, NONE, "a" * 1000 + "END", None, budget=10)
    assert e.detokenize(built.tokens).endswith("END")
    assert len(built.tokens) <= 10


def test_prefix_only_family_ignores_the_suffix_for_the_prompt():
    e = engine()
    built = build_prompt(e, NONE, "abc", "xyz", budget=100)
    assert e.detokenize(built.tokens) == "abc"
    assert built.suffix == "xyz"  # still there for post-processing


def test_anchor_keeps_the_head_while_the_window_slides():
    from codefill.server.prompt.fitting import ANCHOR_MIN_LINES, anchor_window

    source = [f"statement_{i} = compute({i}, {i * 7 % 13})" for i in range(400)]
    heads = []
    for cursor in range(200, 216):  # the editor moves down 16 lines, sending the 120 above each time
        window = "\n".join(source[cursor - 120 : cursor]) + "\n"
        anchored = anchor_window(window)
        assert window.endswith(anchored)  # only lines at the far end are dropped
        assert len(window.split("\n")) - len(anchored.split("\n")) < 40
        heads.append(anchored.split("\n", 1)[0])
    # Without anchoring every step would have a new head: 16 of them.
    assert len(set(heads)) <= 3
    short = "\n".join(source[: ANCHOR_MIN_LINES - 1])
    assert anchor_window(short) == short  # a file's start is left alone


def test_cold_window_is_long_enough_and_keeps_its_head_while_typing_down():
    from codefill.server.prompt.fitting import COLD_WINNOW, cold_window

    source = [f"value_{i} = compute({i}, {i * 7 % 13})" for i in range(400)]  # ~30 chars a line
    heads, sizes = [], []
    for cursor in range(200, 240):  # the user types 40 lines down, the editor sending the 120 above
        window = "\n".join(source[cursor - 120 : cursor]) + "\nvalue_x = "
        cold = cold_window(window, 300)
        assert window.endswith(cold) and cold.startswith("value_")  # whole lines at the far end dropped
        sizes.append(len(cold))
        heads.append(cold.split("\n", 1)[0])
    # About 300 characters: give or take COLD_WINNOW / 2 lines of ~30.
    assert 300 - COLD_WINNOW // 2 * 32 <= min(sizes) and max(sizes) <= 300 + COLD_WINNOW // 2 * 32
    # A new head costs a cold prefill of the window: without winnowing every line would have one (40).
    assert len(set(heads)) <= 8


def test_no_cold_window_for_a_short_prefix():
    from codefill.server.prompt.fitting import cold_window

    assert cold_window("a = 1\nb = 2\n" * 10, 300) is None


def test_cold_prompt_keeps_a_quarter_of_its_size_for_the_suffix():
    from codefill.server.prompt.fitting import build_cold_prompt

    e = engine()
    prefix = "".join(f"line {i:04}\n" for i in range(300))  # 10 chars a line
    suffix = "".join(f"next {i:04}\n" for i in range(100))
    full = build_prompt(e, STARCODER, prefix, suffix, budget=4000)
    built = build_cold_prompt(e, STARCODER, full, 200, budget=4000)
    assert 200 - 8 * 10 <= len(built.prefix) <= 200 + 8 * 10 and prefix.endswith(built.prefix)
    assert built.suffix and suffix.startswith(built.suffix) and len(built.suffix) <= 50
    short = build_prompt(e, STARCODER, prefix[:300], suffix, budget=4000)
    assert build_cold_prompt(e, STARCODER, short, 200, budget=4000) is None


def test_cold_window_shrinks_while_other_sessions_are_in_the_engine():
    from codefill.server.api.protocol import CompletionRequest
    from codefill.server.prompt import PromptSettings, cold_target, render_prompt

    # Sessions share the engine's prompt speed: each gets its share of the window, down to a third.
    assert [cold_target(384, n) for n in (0, 1, 2, 3, 4, 8)] == [384, 384, 192, 128, 128, 128]
    e = FakeEngine(n_ctx=8192, family="starcoder", special_tokens=STARCODER.markers)
    e.uses_cold_window = True
    prefix = "".join(f"value_{i:04} = compute({i})\n" for i in range(250))  # one char a token in the fake
    req = CompletionRequest(model="fake", prompt=prefix + "result = ", suffix="\nprint(result)\n")
    settings = PromptSettings(anchor=False, token_healing=False, cold_window=600)
    sizes, full, small = {}, set(), {}
    for sessions in (0, 1, 2, 4):
        shown = render_prompt(req.prompt, None, req, mode="single_line", max_tokens=16, engine=e, family=STARCODER,
                              settings=settings, busy_sessions=sessions)
        sizes[sessions] = len(shown.cold_tokens)
        small[sessions] = shown.small_tokens
        full.add(tuple(shown.tokens))
    assert len(full) == 1 and len(full.pop()) > 6000  # the full window is the same whoever else is typing
    assert sizes[0] == sizes[1] > sizes[2] > sizes[4]
    # Beside a longer window, the smallest one too (for others who come after this request): the
    # window four typists get, from the same start.
    assert small[0] == small[1] == small[2] and len(small[1]) == sizes[4] and small[4] is None
    # Each about its target, give or take the COLD_WINNOW / 2 lines (26 chars here) the start may move.
    for sessions, target in ((1, 600), (2, 300), (4, 200)):
        assert abs(sizes[sessions] - target) <= 8 * 26 + 40, (sessions, sizes)


def test_a_sessions_last_cold_window_is_offered_again_grown_to_the_cursor():
    """The window whose start the serving layer kept (ColdStart) comes back from that start to the cursor,
    beside this keystroke's own window, however the typists sharing the engine resized the target."""
    from codefill.server.api.protocol import CompletionRequest
    from codefill.server.prompt import ColdStart, PromptSettings, render_prompt

    e = FakeEngine(n_ctx=8192, family="starcoder", special_tokens=STARCODER.markers)
    e.uses_cold_window = True
    settings = PromptSettings(anchor=False, token_healing=False, cold_window=600)
    lines = [f"value_{i:04} = compute({i})\n" for i in range(300)]

    def show(n, busy, kept=None):
        req = CompletionRequest(model="fake", prompt="".join(lines[:n]) + "result = ", suffix="\nprint(result)\n")
        return render_prompt(req.prompt, None, req, mode="single_line", max_tokens=16, engine=e, family=STARCODER,
                             settings=settings, busy_sessions=busy, kept=kept)

    first = show(250, busy=1)
    start = first.cold_start
    assert start is not None and start.target == 600 and first.kept_tokens is None
    assert "".join(lines[:250]).count(start.head) == 1
    # Four typists now: this keystroke's window is a third as long, and starts elsewhere.
    later = show(254, busy=4, kept=start)
    assert len(later.cold_tokens) < len(first.cold_tokens) and later.cold_start != start
    assert later.kept_start == start
    from codefill.server.engines.llama_cpp.slots import common_prefix

    text = "".join(lines[:250])
    lines_kept = len(text) - text.index(start.head)  # one token a character in the fake, after <fim_prefix>
    assert common_prefix(later.kept_tokens, first.cold_tokens) >= 1 + lines_kept  # its cache's head is reused
    assert len(later.kept_tokens) > len(first.cold_tokens)  # ... grown by the four lines typed
    # Gone from the prefix (another file, or the cursor moved above it), or grown too long: not offered.
    elsewhere = ColdStart("unrelated = 1\nother = 2\n", 600)
    assert show(254, busy=4, kept=elsewhere).kept_tokens is None
    assert show(249, busy=4, kept=ColdStart(start.head, 600)).kept_tokens is not None
    assert show(299, busy=1, kept=ColdStart(lines[100] + lines[101], 200)).kept_tokens is None  # > 2 x 600
    # The same window as this keystroke's own: offered once.
    assert show(250, busy=1, kept=start).kept_tokens is None


def test_a_windows_head_finds_its_start_at_a_line_start_only():
    from codefill.server.prompt.fitting import kept_window, window_head

    assert window_head("a = 1\nb = 2\nc = 3") == "a = 1\nb = 2\n"
    assert window_head("a = 1\nb = 2") is None and window_head("\n\nc") is None
    prefix = "xa = 1\nb = 2\nq\na = 1\nb = 2\nc\n"
    assert kept_window(prefix, "a = 1\nb = 2\n") == "a = 1\nb = 2\nc\n"  # the last, at a line start
    assert kept_window("xa = 1\nb = 2\n", "a = 1\nb = 2\n") is None
    assert kept_window("a = 1\nb = 2\nz", "a = 1\nb = 2\n") == "a = 1\nb = 2\nz"


def test_the_ceilings_first_prompt_is_what_the_engine_would_evaluate():
    """The bench's ceiling counts a place's first keystroke as the prompt stage makes it (first_prompt_tokens):
    the cold window where it saves more than the engine's `cold_saving`, else the full prompt."""
    from codefill.server.api.protocol import CompletionRequest
    from codefill.server.prompt import PromptSettings, first_prompt_tokens, render_prompt

    e = FakeEngine(n_ctx=8192, family="starcoder", special_tokens=STARCODER.markers)
    e.uses_cold_window = True
    for lines in (250, 30):
        prefix = "".join(f"value_{i:04} = compute({i})\n" for i in range(lines)) + "result = "
        req = CompletionRequest(model="fake", prompt=prefix, suffix="\nprint(result)\n")
        shown = render_prompt(req.prompt, None, req, mode="single_line", max_tokens=16, engine=e, family=STARCODER,
                              settings=PromptSettings(token_healing=False, cold_window=600), busy_sessions=1)
        counted = first_prompt_tokens(prefix, req.suffix, vocab=e, family=STARCODER, target=600,
                                      budget=8192 - 16, cold_saving=192)
        if lines == 250:
            assert shown.cold_tokens and counted == len(shown.cold_tokens) < len(shown.tokens)
        else:  # too short for a cold window: the whole prompt
            assert shown.cold_tokens is None and counted == len(shown.tokens)

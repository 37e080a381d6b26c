"""StopSequences: the request's stops end the completion, also when split across tokens.

Each case is fed whole and one character at a time (helpers.both_ways): streaming must give the same
answer."""

from codefill.server.postprocess import build_pipeline, run_to_end
from codefill.server.postprocess.filters import StopSequences
from codefill.server.postprocess.pipeline import Pipeline
from tests.helpers import both_ways


def test_stop_sequence_cuts_before_it():
    assert both_ways(lambda: [StopSequences(["\n\n", "END"])], "a = 1\nb = 2\n\nc = 3") == "a = 1\nb = 2"
    assert both_ways(lambda: [StopSequences(["END"])], "xxENyyEND zz") == "xxENyy"


def test_stop_sequence_split_across_tokens_is_held_back():
    p = Pipeline([StopSequences(["STOP"])])
    assert p.push("abc ST") == "abc "
    assert p.push("O") == ""
    assert p.push("P and more") == ""
    assert p.done


def test_partial_stop_is_released_when_it_does_not_complete():
    p = Pipeline([StopSequences(["STOP"])])
    assert p.push("ST") == ""
    assert p.push("ART") == "START"


def test_after_code_a_stop_in_the_leading_blank_lines_does_not_count():
    make = lambda: [StopSequences(["\n"], after_code=True)]  # noqa: E731
    assert both_ways(make, "\n\n    return x\n    y = 1") == "\n\n    return x"
    assert both_ways(make, "return x\ny") == "return x"
    assert both_ways(lambda: [StopSequences(["\n"])], "\n\n    return x") == ""


def test_on_an_empty_line_a_client_stop_at_the_newline_still_gives_the_lines_code():
    prefix, suffix = "def f(x):\n    y = x * 2\n    ", "\n"
    for pieces in (["\n", "\n    ", "return", " y", "\n", "z"], list("\n\n    return y\nz")):
        p = build_pipeline(mode="single_line", stops=["\n"], prefix=prefix, suffix=suffix, language="python")
        assert run_to_end(p, pieces) == "return y"
    # After code on the cursor's line the client's stop keeps its OpenAI meaning: an empty answer.
    p = build_pipeline(mode="single_line", stops=["\n"], prefix="x = 1", suffix="\n", language="python")
    assert run_to_end(p, ["\n", "y = 2"]) == ""

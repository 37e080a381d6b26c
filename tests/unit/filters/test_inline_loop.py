"""InlineLoop: a completion looping inside a line (the same piece again and again) ends before the
first copy; code that repeats short pieces is left alone.

Each case is fed whole and one character at a time (helpers.both_ways): streaming must give the same
answer."""

from functools import partial

from codefill.server.postprocess import plan, run_to_end
from codefill.server.postprocess.filters import InlineLoop
from tests.helpers import both_ways


def test_a_list_item_written_again_and_again_ends_before_its_first_copy():
    # What the default model wrote at http/client.py's __all__ (bench replay, seed 1), to max_tokens.
    text = '"UnimplementedSockets", "UnimplementedSockets", "UnimplementedSockets", "Unimpl'
    assert both_ways(InlineLoop, text) == '"UnimplementedSockets", '
    # The first copy may be the user's own text on the cursor's line.
    line = '__all__ = ["HTTPResponse", "HTTPException", '
    assert both_ways(partial(InlineLoop, line), '"HTTPException", "HTTPException", "IncompleteRead"') == ""
    # Cut before an item, however the repetition began: one whole copy stays.
    assert both_ways(partial(InlineLoop, "if isinstance(node, "), "(int, float, int, float, int, str)") == \
        "(int, float, "
    assert both_ways(partial(InlineLoop, "flags = re"), ".MULTILINE | re.MULTILINE | re.MULTILINE | r") == \
        ".MULTILINE | "


def test_code_that_repeats_short_or_plain_pieces_is_left_alone():
    for text in ("[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]",  # pieces under 8 characters, or of two characters
                 "assertEqual(compute(x), compute(x))",  # the same call twice, not back to back with its separator
                 'print("-" * 40, "=" * 40)',
                 '"--------" + "--------"',  # no letter or digit
                 "values = [first_value, second_value, third_value]\n",
                 "x = a_long_name + a_long_name\n",
                 # '}#{action.help' twice, up to the second's '_sep' (seen on argparse.py, seed 1)
                 ".append(f'#{i+1}#{action.help}#{action.help_sep}')"):
        assert both_ways(InlineLoop, text) == text


def test_a_new_line_starts_afresh_and_nothing_is_held_back_at_its_end():
    text = "first_item, \nfirst_item, second"
    assert both_ways(InlineLoop, text) == text
    f = InlineLoop()
    assert f.push("name_one, name_") == "name_one, "  # "name_" may begin a copy: held
    assert f.push("two") + f.flush() == "name_two" and not f.done  # it did not


def test_the_pipeline_of_an_editor_request_ends_such_a_loop_and_says_who_did():
    p = plan('__all__ = ["HTTPResponse", ', '\n', language="python")
    out = run_to_end(p.pipeline, ['"HTTPException", ', '"HTTPException", ', '"HTTPException", '])
    assert out == '"HTTPException",' and p.pipeline.stopped_by == "InlineLoop"  # the space: TrailingWhitespace

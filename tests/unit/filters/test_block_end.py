"""BlockEnd: a multi-line completion ends with the block the cursor is in.

Each case is fed whole and one character at a time (helpers.both_ways): streaming must give the same
answer."""

from codefill.server.postprocess.filters import BlockEnd
from tests.helpers import both_ways


def test_block_ends_where_the_code_dedents():
    text = "x = f.read()\n        return x\n\ndef main():\n    pass"
    assert both_ways(lambda: [BlockEnd("        ")], text) == "x = f.read()\n        return x\n\n"


def test_nested_blocks_inside_the_body_are_kept():
    text = "for x in xs:\n        if x:\n            yield x\n    done = True\nprint(1)\n"
    assert both_ways(lambda: [BlockEnd("    ")], text) == \
        "for x in xs:\n        if x:\n            yield x\n    done = True\n"


def test_brace_block_stops_before_the_closing_brace():
    text = "int y = x * 2;\n  return y;\n}\n\nint main() {"
    assert both_ways(lambda: [BlockEnd("  ")], text) == "int y = x * 2;\n  return y;\n"

"""SyntaxCheck: multi-line completions end at the last point that parses."""

from codefill.server.postprocess.pipeline import Pipeline
from codefill.server.postprocess.filters.syntax_check import SyntaxCheck
from tests.helpers import both_ways


def checked(prefix, suffix, text, lang):
    return both_ways(lambda: SyntaxCheck(prefix, suffix, lang), text)


PY = ("def add(a, b):\n    ", "\n\nprint(add(1, 2))\n")


def test_code_passes():
    assert checked(*PY, "total = a + b\n    return total\n", "python") == "total = a + b\n    return total\n"


def test_prose_is_dropped():
    prose = "This function takes two numbers as input and returns their sum."
    assert checked(*PY, prose, "python") == ""
    assert checked(*PY, "return a + b\n    " + prose + "\n", "python") == "return a + b\n"


def test_an_open_construct_waits_for_its_close():
    prefix, suffix = "function f(x) {\n  ", "\n}\n"
    text = "if (x) {\n    return 1;\n  }\n  return 0;\n"
    assert checked(prefix, suffix, text, "javascript") == text
    # Cut off inside the `if`: the half-written block is not passed on.
    assert checked(prefix, suffix, "return 2;\n  if (x) {\n    return", "javascript") == "return 2;\n"


def test_streaming_is_by_lines():
    p = Pipeline([SyntaxCheck("int f(int x) {\n    ", "\n}\n", "c")])
    assert p.push("return x") == ""
    assert p.push(" * x;\n") == "return x * x;\n"
    assert p.push("This squares x.\n") == ""
    assert p.done


def test_a_file_broken_at_the_cursor_is_not_judged():
    prefix, suffix = "def f():\n    x = [1,\n    ", "\n"
    assert checked(prefix, suffix, "anything goes here", "python") == "anything goes here"


def test_incremental_parse_equals_a_fresh_one():
    from codefill.server.languages import parse
    from codefill.server.postprocess.filters.syntax_check import _Document

    prefix, suffix = "int f(int x) {\n    int y = 0;\n    ", "\n}\n\nint g(void) { return 1; }\n"
    doc = _Document("c", prefix.encode(), suffix.encode())
    completion = ""
    for piece in ["if (x) {", "\n        y = x * 2;", "\n    }", "\n    return y;", " // é\n"]:
        completion += piece
        doc.grow(piece.encode())
        assert str(doc.tree.root_node) == str(parse("c", prefix + completion + suffix).root_node)

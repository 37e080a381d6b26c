"""Cross-file snippets (server/prompt/crossfile.py): extraction, ranking, budget, layout, and the
`input_extra` field through the API. The real model's use of it is shown in
tests/integration/test_context.py."""

import pytest

from codefill.server.prompt.crossfile import MAX_CROSSFILE_TOKENS, ExtraFile, crossfile_head, declarations
from codefill.server.prompt.families import get_family
from codefill.server.prompt.fitting import build_prompt
from tests.fakes import FakeEngine

UTILS = '''import math


def circle_area(radius: float) -> float:
    """Area of a circle.

    Uses math.pi.
    More words.
    """
    return math.pi * radius ** 2


class Stack:
    """A LIFO stack."""

    limit = 10

    def push(self, item):
        self.items.append(item)

    def pop(self):
        return self.items.pop()


def unrelated_helper(x):
    return x * 2
'''


def _text(segments) -> str:
    return "".join(s.text for s in segments)


# --- extraction ------------------------------------------------------------------

def test_python_declarations_keep_signatures_and_docstrings_not_bodies():
    decls = {d.name: d for d in declarations("utils.py", UTILS)}
    assert set(decls) == {"circle_area", "Stack", "unrelated_helper"}
    area = decls["circle_area"].text
    assert area.startswith("def circle_area(radius: float) -> float:\n    \"\"\"Area of a circle.")
    assert "return" not in area and area.endswith("    ...")
    stack = decls["Stack"].text
    assert "    def push(self, item):\n        ..." in stack and "limit = 10" in stack
    assert "append" not in stack
    assert decls["Stack"].names == {"Stack", "push", "pop", "limit"}


@pytest.mark.parametrize("filename, source, expected", [
    ("geo.h", "struct point { int x; int y; };\nint manhattan(struct point a, struct point b) { return 0; }\n"
              "#define ORIGIN 0\n", {"point", "manhattan", "ORIGIN"}),
    ("shapes.cpp", "namespace geo { class Box { public: int volume() const { return 1; } }; }\n"
                   "template <class T> T twice(T x) { return x + x; }\n", {"Box", "twice"}),
    ("api.ts", "export interface User { id: number }\nexport function fetchUser(id: number): User { return {id}; }\n"
               "type Id = string;\n", {"User", "fetchUser", "Id"}),
    ("util.js", "export function slugify(s) { return s.toLowerCase(); }\nclass Cache { get(k) { return 1; } }\n",
     {"slugify", "Cache"}),
    ("store.go", "package store\nfunc Open(path string) (*DB, error) { return nil, nil }\n"
                 "func (d *DB) Close() error { return nil }\ntype DB struct { path string }\n",
     {"Open", "Close", "DB"}),
    ("lib.rs", "pub fn parse(s: &str) -> u32 { 0 }\npub struct Config { verbose: bool }\n"
               "impl Config { pub fn new() -> Self { Config { verbose: false } } }\n", {"parse", "Config"}),
    ("Account.java", "public class Account { private int balance; public int deposit(int amount) { "
                     "return balance += amount; } }\n", {"Account"}),
])
def test_declarations_in_every_language(filename, source, expected):
    decls = declarations(filename, source)
    assert {d.name for d in decls} == expected
    text = "\n".join(d.text for d in decls)
    assert "return" not in text  # bodies are left out


def test_a_file_without_a_grammar_declares_nothing():
    assert declarations("notes.txt", "def f(): pass") == ()


# --- ranking, budget, layout -----------------------------------------------------

NONE = get_family("none")
QWEN = get_family("qwen2.5-coder")


def _head(files, prefix, budget, family=NONE, filepath="main.py", suffix=""):
    return crossfile_head(FakeEngine(), family, files, prefix=prefix, suffix=suffix, filepath=filepath,
                        budget=budget)


def test_what_the_cursor_uses_ranks_first_when_the_budget_is_tight():
    files = [ExtraFile("utils.py", UTILS)]
    stack = next(d for d in declarations("utils.py", UTILS) if d.name == "Stack")
    budget = len(stack.text) + 40  # room for Stack and the file headers, not for everything
    assert len(_text(_head(files, "x = 1\n", 10_000))) > budget
    head = _text(_head(files, "s = Stack()\ns.", budget))
    assert "class Stack" in head and "circle_area" not in head and "unrelated_helper" not in head, head
    # Without a use of Stack the same room goes to the first declaration instead.
    head = _text(_head(files, "x = 1\n", budget))
    assert "circle_area" in head and "class Stack" not in head, head


def test_the_head_stays_within_the_budget():
    files = [ExtraFile("utils.py", UTILS), ExtraFile("more.py", "def other(a, b):\n    return a\n")]
    for budget in (0, 30, 80, 200, 400, 5000):
        head = _head(files, "circle_area(", budget)
        assert len(_text(head)) <= min(budget, MAX_CROSSFILE_TOKENS)  # the fake engine: a character is a token


def test_order_is_stable_between_keystrokes():
    """The chosen declarations are written in file order, whatever ranks
    them: two keystrokes with the same snippets get a byte-identical head."""
    files = [ExtraFile("utils.py", UTILS), ExtraFile("more.py", "def other(a, b):\n    return a\n")]
    first = _text(_head(files, "value = oth", 5000))
    second = _text(_head(files, "value = other(1, 2)\nst = Stack()\nst.pu", 5000))
    assert first == second
    assert first.index("circle_area") < first.index("class Stack") < first.index("def other")


def test_comment_layout_names_each_file_and_the_current_one():
    head = _text(_head([ExtraFile("utils.py", UTILS), ExtraFile("src/vec.h", "int dot(int a, int b);\n")],
                       "", 5000, filepath="app.py"))
    assert head.startswith("# utils.py\ndef circle_area(")
    assert "\n// src/vec.h\nint dot(int a, int b);\n" in head
    assert head.endswith("# app.py\n")


def test_qwen_gets_the_repository_layout_with_special_tokens():
    head = _head([ExtraFile("utils.py", UTILS)], "", 5000, family=QWEN, filepath="app.py")
    assert [s.text for s in head if s.special] == ["<|repo_name|>", "<|file_sep|>", "<|file_sep|>"]
    assert _text(head).startswith("<|repo_name|>workspace\n<|file_sep|>utils.py\ndef circle_area(")
    assert _text(head).endswith("<|file_sep|>app.py\n")


def test_the_file_around_the_cursor_comes_first():
    """The context gets only the room the file leaves."""
    from codefill.server.prompt.crossfile import with_crossfile

    engine = FakeEngine()
    prefix = "x = 1\n" * 50
    files = [ExtraFile("utils.py", UTILS)]
    full = build_prompt(engine, NONE, prefix, "", 300)  # the file fills the whole budget
    assert with_crossfile(engine, NONE, full, files, filepath=None, budget=300) == full
    roomy = build_prompt(engine, NONE, prefix, "", 900)
    with_extra = with_crossfile(engine, NONE, roomy, files, filepath="main.py", budget=900)
    text = engine.detokenize(with_extra.tokens)
    assert text.endswith(prefix) and "def circle_area(" in text and len(with_extra.tokens) <= 900


# --- through the API ---------------------------------------------------------------

def test_input_extra_reaches_the_prompt_head(open_client):
    engine = FakeEngine("area = circle_area(r)", n_ctx=2048)
    c = open_client(engine)
    body = {"model": "fake", "prompt": "r = 2\n", "suffix": "\n", "filepath": "main.py",
            "input_extra": [{"filename": "utils.py", "text": UTILS}]}
    r = c.post("/v1/completions", json=body)
    assert r.status_code == 200, r.text
    shown = engine.detokenize(engine.requests[-1].prompt_tokens)
    assert shown.startswith("# utils.py\ndef circle_area(radius: float) -> float:")
    assert shown.endswith("# main.py\nr = 2\n")
    r = c.post("/v1/completions", json={**body, "input_extra": None})
    assert engine.detokenize(engine.requests[-1].prompt_tokens) == "r = 2\n"


@pytest.mark.parametrize("extra, fragment", [
    ([{"filename": "a.py"}], "input_extra"),
    ([{"filename": "a.py", "text": 3}], "input_extra"),
    ([{"filename": "", "text": "x"}], "input_extra"),
    ([{"filename": "a.py", "text": "x", "other": 1}], "input_extra"),
    ([{"filename": "a.py", "text": "x" * 65537}], "input_extra"),
    ([{"filename": f"f{i}.py", "text": "x"} for i in range(33)], "input_extra"),
    ("utils.py", "input_extra"),
])
def test_bad_input_extra_is_a_400_naming_it(extra, fragment, open_client):
    c = open_client(FakeEngine())
    r = c.post("/v1/completions", json={"model": "fake", "prompt": "x", "input_extra": extra})
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["param"].startswith(fragment), err
    assert err["type"] == "invalid_request_error"


def test_input_extra_is_in_the_openapi_schema(open_client):
    c = open_client(FakeEngine())
    schema = c.get("/openapi.json").json()
    props = schema["components"]["schemas"]["CompletionRequest"]["properties"]
    assert "input_extra" in props and "llama.cpp" in props["input_extra"]["description"]
    assert set(schema["components"]["schemas"]["ExtraFile"]["properties"]) == {"filename", "text"}

"""The language layer: names from language ids and file paths, and a working
tree-sitter grammar for every language it names."""

import pytest

from codefill.server.languages import LANGUAGES, detect_language, language_for, parse, parser_for


@pytest.mark.parametrize("language, filepath, expected", [
    ("python", None, "python"),
    ("Python", None, "python"),
    ("typescriptreact", None, "tsx"),
    ("javascriptreact", None, "javascript"),
    ("cpp", None, "cpp"),
    ("c++", None, "cpp"),
    ("golang", None, "go"),
    (None, "src/main.rs", "rust"),
    (None, "C:\\work\\App.java", "java"),
    (None, "lib/util.H", "c"),
    (None, "x/y.hpp", "cpp"),
    (None, "a.test.tsx", "tsx"),
    (None, "index.mjs", "javascript"),
    ("plaintext", "notes.go", "go"),  # an id without a grammar falls back to the path
    ("markdown", "README.md", None),
    (None, "Makefile", None),
    (None, None, None),
    ("", "", None),
])
def test_detect_language(language, filepath, expected):
    assert detect_language(language, filepath) == expected


# A tiny valid program per language: each grammar must load (ABI) and parse it cleanly.
SAMPLES = {
    "python": "def f(x):\n    return x + 1\n",
    "javascript": "function f(x) { return x + 1; }\n",
    "typescript": "function f(x: number): number { return x + 1; }\n",
    "tsx": "const A = (p: {n: number}) => <div>{p.n}</div>;\n",
    "go": "package main\n\nfunc f(x int) int { return x + 1 }\n",
    "rust": "fn f(x: i32) -> i32 { x + 1 }\n",
    "java": "class A { int f(int x) { return x + 1; } }\n",
    "c": "int f(int x) { return x + 1; }\n",
    "cpp": "template <typename T> T f(T x) { return x + 1; }\n",
}


def test_every_language_has_a_sample():
    assert set(SAMPLES) == set(LANGUAGES)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_grammar_loads_and_parses(lang):
    tree = parse(lang, SAMPLES[lang])
    assert tree is not None
    assert not tree.root_node.has_error, str(tree.root_node)
    broken = parse(lang, SAMPLES[lang] + ") ( } ]\n")
    assert broken.root_node.has_error


def test_parsers_are_cached_and_unknown_names_have_none():
    assert parser_for("python") is parser_for("python")
    assert language_for("python") is language_for("python")
    assert parser_for("cobol") is None and language_for(None) is None and parse("cobol", "x") is None


def test_request_fields_are_described_in_the_openapi_schema():
    from codefill.server.api.protocol import CompletionRequest

    props = CompletionRequest.model_json_schema()["properties"]
    assert "language id" in props["language"]["description"]
    assert "extension" in props["filepath"]["description"]
    assert "single_line" in props["mode"]["description"]


# --- inferring the language of code that names none --------------------------------------------------
# (prefix, suffix) around a cursor, as editors send them, per language.
CURSORS = {
    "python": ("import os\n\n\ndef read_config(path):\n    with open(path) as f:\n        data = f.",
               "\n    return data\n"),
    "javascript": ("const express = require('express');\nconst app = express();\n\n"
                   "app.get('/', (req, res) => {\n  res.", "\n});\n\nmodule.exports = app;\n"),
    "typescript": ("interface User {\n  id: number;\n  name: string;\n}\n\n"
                   "function greet(user: User): string {\n  return `Hello ${user.", "}`;\n}\n"),
    "go": ("package main\n\nimport \"fmt\"\n\nfunc main() {\n\tnames := []string{\"a\", \"b\"}\n"
           "\tfor _, n := range names {\n\t\tfmt.", "\n\t}\n}\n"),
    "rust": ("use std::collections::HashMap;\n\nfn count(words: &[&str]) -> HashMap<&str, usize> {\n"
             "    let mut map = HashMap::new();\n    for w in words {\n        *map.", "\n    }\n    map\n}\n"),
    "java": ("import java.util.List;\n\npublic class Greeter {\n    private final String name;\n\n"
             "    public Greeter(String name) {\n        this.", "\n    }\n}\n"),
    "c": ("#include <stdio.h>\n#include <stdlib.h>\n\nint main(int argc, char **argv) {\n"
          "    int *xs = malloc(10 * sizeof(int));\n    for (int i = 0; i < 10; i++) {\n        xs[i] = ",
          "\n    }\n    free(xs);\n    return 0;\n}\n"),
    "cpp": ("#include <vector>\n#include <string>\n\nnamespace app {\nclass Store {\n public:\n"
            "  void add(const std::string& s) { items_.", " }\n private:\n  std::vector<std::string> items_;\n};\n}\n"),
}


@pytest.mark.parametrize("lang", sorted(CURSORS))
def test_infer_language_from_the_code_around_the_cursor(lang):
    from codefill.server.languages import infer_language

    prefix, suffix = CURSORS[lang]
    assert infer_language(prefix, suffix) == lang


@pytest.mark.parametrize("prefix, expected", [
    ("#!/usr/bin/env python3\nimport sys\n", "python"),
    ("#!/usr/bin/env node\n", "javascript"),
    ("#!/usr/bin/python3.12 -u\n", "python"),
    ("#!/bin/bash\necho hi\n", None),  # no grammar here: nothing
    ("x = ", None),  # too little code to say
    ("The quick brown fox jumps over the lazy dog, and then it ran away again.\nAnd so on.", None),  # prose
])
def test_infer_language_shebangs_and_refusals(prefix, expected):
    from codefill.server.languages import infer_language

    assert infer_language(prefix, "") == expected


def test_a_named_language_is_not_inferred():
    """Inference is only for requests that name neither a language nor a file (serving.prepare)."""
    assert detect_language("python", None) == "python"

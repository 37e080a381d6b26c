"""Which programming language a request is in, and tree-sitter parsers for it.

The interface other parts of the server rely on (post-processing, context):

- ``detect_language(language, filepath) -> str | None``: a canonical language
  name from the request's `language` (an LSP / VS Code language id such as
  ``python``, ``typescriptreact``, ``cpp``; case-insensitive; a few common
  aliases like ``py``, ``js``, ``c++``, ``golang``) or, when that is missing or
  unknown, from `filepath`'s extension. ``None`` when neither says.
- ``infer_language(prefix, suffix) -> str | None``: for a request that names
  neither: a shebang, else the grammar that parses the code around the cursor
  with the fewest bytes in syntax errors (see below); ``None`` for too little
  code or code no grammar here parses well.
- ``LANGUAGES``: the canonical names: ``python``, ``javascript``,
  ``typescript``, ``tsx``, ``go``, ``rust``, ``java``, ``c``, ``cpp``.
- ``language_for(lang) -> tree_sitter.Language | None`` and
  ``parser_for(lang) -> tree_sitter.Parser | None``: cached per name; ``None``
  for a name without a grammar. Parsers are shared: use them from one thread
  at a time (the event loop), or make your own with
  ``tree_sitter.Parser(language_for(lang))``.
- ``parse(lang, text) -> tree_sitter.Tree | None``: a convenience for one parse.

Grammars come from PyPI (`tree-sitter-python`, ...), pinned in pyproject.toml.

How `infer_language` decides: a shebang, else every grammar parses the whole
lines before and after the cursor's line (at most 1,500 characters before,
500 after; the cursor's own half-written line is left out, so the answer is
cached while the cursor stays on its line), and the one with the fewest
error bytes wins: loose tokens inside ERROR nodes (a complete construct
inside one costs nothing), 4 per MISSING node. The window starts at its first
least-indented line, dedented; when it seems to start inside a string or
comment, the part after the first line that ends one is tried too. Ties go to
the less specific grammar (JavaScript before TypeScript, C before C++). No
language when the code is under 24 characters, when the best grammar leaves
over half of it in errors, or over 5% and not half of what the next best
leaves. A new line costs one parse per grammar tried (tens of milliseconds on
a busy 2-core machine); the first grammar that parses without errors ends
the search, and Python is tried first.
"""

from __future__ import annotations

import importlib
import os
import re
from functools import cache, lru_cache

import tree_sitter

# canonical name -> (module, function returning the grammar's language pointer)
_GRAMMARS: dict[str, tuple[str, str]] = {
    "python": ("tree_sitter_python", "language"),
    "javascript": ("tree_sitter_javascript", "language"),
    "typescript": ("tree_sitter_typescript", "language_typescript"),
    "tsx": ("tree_sitter_typescript", "language_tsx"),
    "go": ("tree_sitter_go", "language"),
    "rust": ("tree_sitter_rust", "language"),
    "java": ("tree_sitter_java", "language"),
    "c": ("tree_sitter_c", "language"),
    "cpp": ("tree_sitter_cpp", "language"),
}

LANGUAGES: tuple[str, ...] = tuple(_GRAMMARS)

# LSP / VS Code language ids and common aliases -> canonical name.
_IDS: dict[str, str] = {
    "python": "python", "py": "python", "python3": "python",
    "javascript": "javascript", "js": "javascript", "javascriptreact": "javascript", "jsx": "javascript",
    "node": "javascript",
    "typescript": "typescript", "ts": "typescript",
    "typescriptreact": "tsx", "tsx": "tsx",
    "go": "go", "golang": "go",
    "rust": "rust", "rs": "rust",
    "java": "java",
    "c": "c",
    "cpp": "cpp", "c++": "cpp", "cxx": "cpp", "cuda-cpp": "cpp", "objective-cpp": "cpp",
}

# file extension (lower case, with the dot) -> canonical name.
_EXTENSIONS: dict[str, str] = {
    ".py": "python", ".pyi": "python", ".pyw": "python",
    ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript", ".jsx": "javascript",
    ".ts": "typescript", ".mts": "typescript", ".cts": "typescript",
    ".tsx": "tsx",
    ".go": "go",
    ".rs": "rust",
    ".java": "java",
    ".c": "c", ".h": "c",
    ".cc": "cpp", ".cpp": "cpp", ".cxx": "cpp", ".c++": "cpp", ".hpp": "cpp", ".hh": "cpp", ".hxx": "cpp",
    ".h++": "cpp", ".ipp": "cpp", ".inl": "cpp", ".cu": "cpp",
}


def detect_language(language: str | None, filepath: str | None) -> str | None:
    """The canonical language of a request, from its `language` id first, then `filepath`."""
    if language:
        found = _IDS.get(language.strip().lower())
        if found:
            return found
    if filepath:
        # Both separators: clients on Windows send backslashes; URIs keep their path.
        name = filepath.replace("\\", "/").rsplit("/", 1)[-1]
        ext = os.path.splitext(name)[1].lower()
        return _EXTENSIONS.get(ext)
    return None


@cache
def language_for(lang: str | None) -> tree_sitter.Language | None:
    """The tree-sitter Language of a canonical name, or None."""
    spec = _GRAMMARS.get(lang or "")
    if spec is None:
        return None
    module = importlib.import_module(spec[0])
    return tree_sitter.Language(getattr(module, spec[1])())


@cache
def parser_for(lang: str | None) -> tree_sitter.Parser | None:
    """A shared tree-sitter Parser for a canonical name, or None."""
    language = language_for(lang)
    return tree_sitter.Parser(language) if language is not None else None


def parse(lang: str | None, text: str) -> tree_sitter.Tree | None:
    """`text` parsed as `lang`, or None without a grammar."""
    parser = parser_for(lang)
    return parser.parse(text.encode("utf-8")) if parser is not None else None


# --- inferring the language from the code ---------------------------------------------------------
# When a request names neither a language nor a file (a generic OpenAI client, many Ollama and
# llama.cpp plugins), the code itself says: a shebang if there is one, else the grammar that parses
# the code around the cursor with the fewest syntax errors. Every grammar parses the same window
# (the whole lines before and after the cursor's line, at most _INFER_PREFIX_CHARS before and
# _INFER_SUFFIX_CHARS after); one parse per grammar, cached while the cursor stays on its line.
_INFER_PREFIX_CHARS = 1500
_INFER_SUFFIX_CHARS = 500
_INFER_MIN_CHARS = 24  # less code than this says too little
# The best grammar leaves more than half of the code in errors, or more than 5% and not half of
# what the next best leaves: no language we know (prose, another language), or not sure which.
_INFER_MAX_ERROR_SHARE = 0.5
_INFER_CLEAR_ERROR_SHARE = 0.05
_INFER_CLEAR_MARGIN = 0.5
# On a tie the more specific grammar loses: JavaScript before TypeScript, C before C++.
_INFER_ORDER = ("python", "javascript", "typescript", "tsx", "java", "go", "rust", "c", "cpp")
_SHEBANGS = {"python": "python", "node": "javascript", "deno": "typescript", "ts-node": "typescript",
             "tsx": "typescript", "bun": "javascript"}


def _shebang(prefix: str) -> str | None:
    if not prefix.startswith("#!"):
        return None
    words = prefix[2:].split("\n", 1)[0].replace("/", " ").split()
    for word in reversed(words):
        name = word.rstrip("0123456789.")
        if name in _SHEBANGS:
            return _SHEBANGS[name]
    return None


def _error_cost(tree: tree_sitter.Tree) -> int:
    """Bytes the grammar could not fit into anything: loose tokens inside ERROR nodes (a complete
    construct inside one, such as a whole statement before an unclosed bracket, costs nothing), and
    a few for each MISSING node. Only subtrees that have an error are visited."""
    cost = 0
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.is_missing:
            cost += 4
        elif node.is_error:
            cost += 1
            for child in node.children:
                if child.has_error or child.is_missing:
                    stack.append(child)
                elif not (child.is_named and child.child_count):
                    cost += max(1, child.end_byte - child.start_byte)
        elif node.has_error:
            stack.extend(node.children)
    return cost


def infer_language(prefix: str, suffix: str | None = None) -> str | None:
    """The canonical language of code that names none: its shebang, else the grammar that parses
    the whole lines around the cursor's line with the fewest bytes in syntax errors; None when there
    is too little code, when the best grammar leaves over half of it in errors, or over 5% and not
    half of what the next best leaves."""
    found = _shebang(prefix)
    if found:
        return found
    # The cursor's own line is half written: leave it out, so every keystroke on a line asks the
    # same question (answered from the cache) and no grammar is charged for the hole.
    lines = prefix[: prefix.rfind("\n") + 1]
    head = lines[-_INFER_PREFIX_CHARS:]
    if len(head) < len(lines):
        head = head.partition("\n")[2]
    tail = (suffix or "").partition("\n")[2][:_INFER_SUFFIX_CHARS]
    tail = tail[: tail.rfind("\n") + 1] if len(tail) == _INFER_SUFFIX_CHARS else tail
    return _infer_from_code(_from_outermost_line(head + tail))


def _from_outermost_line(code: str) -> str:
    """`code` from its first least-indented line on, that indentation taken off every line: a window
    that starts inside a block (or a call's arguments) is an error in every grammar, and in Python
    an indented first line is one too."""
    lines = code.split("\n")
    indents = [len(line) - len(line.lstrip(" \t")) for line in lines]
    candidates = [(indent, i) for i, (line, indent) in enumerate(zip(lines, indents))
                  if line.strip() and line.lstrip()[0] not in ")]}\"'"]
    if not candidates:
        return code
    least, first = min(candidates)
    return "\n".join(line[least:] if len(line) - len(line.lstrip(" \t")) >= least else line.lstrip(" \t")
                     for line in lines[first:])


@lru_cache(maxsize=256)
def _infer_from_code(text: str) -> str | None:
    if len(text.strip()) < _INFER_MIN_CHARS:
        return None
    best, cost, runner_up = _best_grammar(text.encode("utf-8"))
    # A window that starts inside a string or comment turns code and text around: try again after the
    # first line that ends one.
    end = _MULTILINE_END.search(text)
    if cost and end is not None and end.end() < len(text) // 2:
        again = _best_grammar(text[end.end():].encode("utf-8"))
        if again[1] < cost:
            text = text[end.end():]
            best, cost, runner_up = again
    size = len(text.encode("utf-8"))
    if cost > size * _INFER_MAX_ERROR_SHARE:
        return None
    if cost > size * _INFER_CLEAR_ERROR_SHARE and cost > runner_up * _INFER_CLEAR_MARGIN:
        return None  # much of it wrong in every grammar, and no grammar clearly better
    return best


_MULTILINE_END = re.compile(r'^.*?(\"\"\"|\'\'\'|\*/)[^\n]*\n', re.M)


def _best_grammar(code: bytes) -> tuple[str, int, int]:
    """(grammar, its error cost, the runner-up's cost); stops at the first grammar without errors."""
    costs: list[tuple[int, int, str]] = []
    for order, lang in enumerate(_INFER_ORDER):
        cost = _error_cost(parser_for(lang).parse(code))
        costs.append((cost, order, lang))
        if cost == 0:
            break
    costs.sort()
    runner_up = costs[1][0] if len(costs) > 1 else costs[0][0]
    return costs[0][2], costs[0][0], runner_up

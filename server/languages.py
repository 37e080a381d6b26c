"""Which programming language a request is in, and tree-sitter parsers for it.

The interface other parts of the server rely on (post-processing, context):

- ``detect_language(language, filepath) -> str | None``: a canonical language
  name from the request's `language` (an LSP / VS Code language id such as
  ``python``, ``typescriptreact``, ``cpp``; case-insensitive; a few common
  aliases like ``py``, ``js``, ``c++``, ``golang``) or, when that is missing or
  unknown, from `filepath`'s extension. ``None`` when neither says.
- ``LANGUAGES``: the canonical names: ``python``, ``javascript``,
  ``typescript``, ``tsx``, ``go``, ``rust``, ``java``, ``c``, ``cpp``.
- ``language_for(lang) -> tree_sitter.Language | None`` and
  ``parser_for(lang) -> tree_sitter.Parser | None``: cached per name; ``None``
  for a name without a grammar. Parsers are shared: use them from one thread
  at a time (the event loop), or make your own with
  ``tree_sitter.Parser(language_for(lang))``.
- ``parse(lang, text) -> tree_sitter.Tree | None``: a convenience for one parse.

Grammars come from PyPI (`tree-sitter-python`, ...), pinned in pyproject.toml.
"""

from __future__ import annotations

import importlib
import os
from functools import cache

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

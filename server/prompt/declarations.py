"""Declarations and signatures of a snippet, as tree-sitter finds them.

A client's extra snippet (another open file, an imported module) is too long
to show whole; what the code at the cursor needs from it is what it declares:
function and method signatures (with a Python docstring's first lines),
classes, structs, interfaces and traits with their members' signatures, type
aliases and constants. Bodies are left out. One table of tree-sitter node
types covers every language the server has a grammar for (server/languages.py).

A function or method becomes its signature (the text before the body) with a
stub: `...` in Python (after the docstring's first lines), `;` in C, C++,
Java and Rust, `{ ... }` in Go, JavaScript and TypeScript. Classes,
interfaces, traits and impls become their header and their members'
signatures; short declarations (structs, type aliases, constants, `#define`s)
stay as written, cut at 6 lines. Results are cached per (filename, text),
since editors resend the same snippets on every keystroke. A file without a
grammar declares nothing and is left out.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from functools import lru_cache

from tree_sitter import Node

from ..languages import detect_language, parse

# Callables: the signature is the text before the body.
_FUNCTIONS = {
    "function_definition", "function_declaration", "generator_function_declaration", "method_definition",
    "method_declaration", "constructor_declaration", "function_item", "function_signature_item",
}
# Types that hold members: their header, then each member summarized.
_CONTAINERS = {
    "class_definition", "class_declaration", "abstract_class_declaration", "interface_declaration",
    "trait_item", "impl_item", "class_specifier", "namespace_definition", "enum_declaration",
}
# Short declarations shown as written (cut to a few lines).
_SMALL = {
    "struct_specifier", "enum_specifier", "union_specifier", "type_definition", "struct_item", "enum_item",
    "type_item", "const_item", "static_item", "type_declaration", "const_declaration", "var_declaration",
    "type_alias_declaration", "lexical_declaration", "variable_declaration", "declaration", "field_declaration",
    "public_field_definition", "preproc_def", "preproc_function_def", "expression_statement",
    "property_signature", "method_signature", "abstract_method_signature",
}
# Nodes around a declaration: (field holding it, keep the wrapper's own text before it).
_WRAPPERS = {"decorated_definition": ("definition", False), "export_statement": ("declaration", True),
             "template_declaration": (None, True)}
_NAME_TYPES = {"identifier", "field_identifier", "type_identifier", "property_identifier", "namespace_identifier"}
_BRACES = {"go", "javascript", "typescript", "tsx"}  # body stub ` { ... }`; other C-like languages end with `;`
_MAX_SMALL_LINES = 6
_MAX_DOC_LINES = 3
_MAX_MEMBERS = 40
_INDENT = "    "
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Declaration:
    """One top-level declaration of a snippet, summarized."""

    name: str | None
    names: frozenset[str]  # its own name and its members' names
    text: str
    order: int  # position in its snippet


def _text(node: Node) -> str:
    return node.text.decode("utf-8", errors="replace")


def _dedented(node: Node, upto: int | None = None) -> str:
    """The node's source (up to byte `upto`), with its own column as indentation zero."""
    raw = node.text[: (upto - node.start_byte) if upto is not None else None].decode("utf-8", errors="replace")
    return textwrap.dedent(" " * node.start_point.column + raw).strip("\n").rstrip()


def _name(node: Node) -> str | None:
    found = node.child_by_field_name("name")
    if found is not None:
        return _text(found)
    d = node.child_by_field_name("declarator")
    while d is not None:
        if d.type in _NAME_TYPES:
            return _text(d)
        d = d.child_by_field_name("declarator") or d.child_by_field_name("name")
    if node.type == "expression_statement" and node.named_child_count:
        left = node.named_children[0].child_by_field_name("left")
        return _text(left) if left is not None and left.type == "identifier" else None
    for child in node.named_children:  # const x = ..., type T struct ..., typedef ... T
        if child.type in _NAME_TYPES:
            return _text(child)
        inner = child.child_by_field_name("name")
        if inner is not None:
            return _text(inner)
    return None


def _docstring(body: Node) -> list[str]:
    first = body.named_children[0] if body.named_child_count else None
    if first is None or first.type != "expression_statement" or not first.named_child_count \
            or first.named_children[0].type != "string":
        return []
    lines = _dedented(first).split("\n")
    if len(lines) > _MAX_DOC_LINES:
        quote = '"""' if lines[0].lstrip().startswith('"""') else "'''"
        lines = lines[:_MAX_DOC_LINES] + [quote]
    return lines


def _summary(node: Node, lang: str, depth: int = 0) -> list[str] | None:
    """The node's summary as lines (indentation relative to the node), or None
    for a node that declares nothing worth showing."""
    kind = node.type
    if kind in _WRAPPERS:
        field, keep_head = _WRAPPERS[kind]
        inner = node.child_by_field_name(field) if field else (node.named_children[-1] if node.named_children
                                                                 else None)
        if inner is None:
            return None
        lines = _summary(inner, lang, depth)
        if lines and keep_head:
            head = node.text[: inner.start_byte - node.start_byte].decode("utf-8", errors="replace").strip()
            lines = [f"{head} {lines[0]}", *lines[1:]]
        return lines
    if kind == "expression_statement" and (lang != "python" or not node.named_child_count
                                           or node.named_children[0].type != "assignment"):
        return None
    body = node.child_by_field_name("body")
    if kind in _FUNCTIONS:
        if body is None:
            return _dedented(node).split("\n")
        header = _dedented(node, body.start_byte).split("\n")
        if lang == "python":
            return header + [_INDENT + ln for ln in _docstring(body)] + [_INDENT + "..."]
        header[-1] += " { ... }" if lang in _BRACES else ";"
        return header
    if kind in _CONTAINERS and body is not None:
        header = _dedented(node, body.start_byte).split("\n")
        members: list[str] = []
        if lang == "python":
            members += _docstring(body)
        for child in body.named_children[:_MAX_MEMBERS]:
            member = _summary(child, lang, depth + 1)
            if member:
                members += member
        if lang == "python":
            return header + [_INDENT + ln for ln in (members or ["..."])]
        close = "};" if kind == "class_specifier" else "}"
        return [*header[:-1], header[-1] + " {", *(_INDENT + ln for ln in members), close]
    if kind in _SMALL:
        lines = _dedented(node).split("\n")
        if len(lines) > _MAX_SMALL_LINES:
            lines = lines[: _MAX_SMALL_LINES - 1] + [lines[_MAX_SMALL_LINES - 1] + " ..."]
        return lines
    return None


def _member_names(node: Node) -> set[str]:
    names = set()
    body = node.child_by_field_name("body")
    for child in (body.named_children if body is not None else []):
        inner = child
        if child.type in _WRAPPERS:
            field = _WRAPPERS[child.type][0]
            inner = child.child_by_field_name(field) if field else child
        name = _name(inner) if inner is not None else None
        if name:
            names.add(name)
    return names


@lru_cache(maxsize=256)
def declarations(filename: str, text: str) -> tuple[Declaration, ...]:
    """The snippet's top-level declarations, summarized; empty when its
    language (from the file name) has no grammar. Cached: editors send the
    same snippets with every keystroke."""
    lang = detect_language(None, filename)
    tree = parse(lang, text) if lang else None
    if tree is None:
        return ()
    out = []
    for node in tree.root_node.named_children:
        if node.type in ("namespace_definition", "mod_item") and node.child_by_field_name("body") is not None:
            nodes = node.child_by_field_name("body").named_children  # C++ namespaces, Rust modules: look inside
        else:
            nodes = [node]
        for n in nodes:
            lines = _summary(n, lang)
            if not lines:
                continue
            inner = n
            while inner.type in _WRAPPERS:
                field = _WRAPPERS[inner.type][0]
                nxt = inner.child_by_field_name(field) if field else (inner.named_children[-1]
                                                                      if inner.named_children else None)
                if nxt is None:
                    break
                inner = nxt
            name = _name(inner)
            members = _member_names(inner) if inner.type in _CONTAINERS else set()
            names = frozenset(filter(None, {name, *members}))
            out.append(Declaration(name, names, "\n".join(lines), len(out)))
    return tuple(out)


def identifiers(code: str) -> set[str]:
    """The identifiers written in `code`."""
    return set(_IDENT.findall(code))

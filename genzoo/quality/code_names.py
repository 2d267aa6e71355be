"""Hallucinated names in a code model's completion: names it uses that nothing defines.

A code model that invents APIs writes code that parses but calls functions and attributes that do
not exist; counting them needs no execution and no test cases. ``score_completion`` parses a
snippet (the caller passes the whole function text, header and completion) and counts, in the lines
it scores:

- used names: every ``ast.Name`` read (``Load`` context), which includes every called bare function
  ``f(...)``, and every attribute read ``x.attr`` (an ``ast.Attribute`` in ``Load`` context), each
  occurrence once;
- undefined names: a name read that is not a builtin (``dir(builtins)``, plus the module dunders
  ``__file__`` and the like and a method's implicit ``__class__``) and is bound nowhere in the
  snippet; an attribute read whose ``attr`` alone (never ``x``'s type) is not in
  ``known_attributes``, not bound as an attribute in the snippet itself (see ``corpus_attributes``,
  plus the parts of dotted imports) and not an attribute of a builtin class (``.append``, ``.items``,
  ``.join``: every public class in ``builtins``, of the exceptions only ``BaseException``, whose
  subclasses' generic ``.name``, ``.path``, ``.code`` would excuse too much; and the function, method,
  generator, coroutine and module types). Attributes of library modules (``np.zeros``) are unknown
  unless the caller adds them.

Bound means, scope-insensitively (a name bound anywhere in the snippet counts everywhere in it,
so a use before its assignment or a local of another function is not caught): assigned or deleted
(``ast.Name`` in ``Store``/``Del`` context, so assignment, ``for``, ``with ... as``, comprehension
and walrus targets), a function or class name, a parameter (functions and lambdas), an import
(``import a.b`` binds ``a``; ``from m import *`` binds nothing), an ``except ... as`` name, a
``global``/``nonlocal`` name, a ``match`` capture, a type parameter.

``parses`` is whether ``ast.parse`` accepts the whole snippet (so ``return`` outside a function,
which only the compiler rejects, still parses). Where it does not, the longest prefix of whole lines
that parses is scored, so that a completion cut off mid-statement still counts its finished lines;
``lines_scored`` says how many. A prefix ending in a bare block header (``def f():``) does not
parse, so a body cut off before its first whole statement scores the lines above the header only.
"""

from __future__ import annotations

import ast
import builtins
import dataclasses
import types
import warnings
from collections.abc import Iterable

_IMPLICIT_NAMES = frozenset(
    {"__file__", "__builtins__", "__cached__", "__annotations__", "__path__", "__class__"}
)
BUILTIN_NAMES = frozenset(dir(builtins)) | _IMPLICIT_NAMES
_RUNTIME_TYPES = (
    types.FunctionType,
    types.MethodType,
    types.GeneratorType,
    types.CoroutineType,
    types.ModuleType,
)
# public builtin classes, of the exceptions only BaseException: see the module's docstring
_BUILTIN_CLASSES = tuple(
    value
    for key, value in vars(builtins).items()
    if isinstance(value, type)
    and not key.startswith("_")
    and (value is BaseException or not issubclass(value, BaseException))
)
BUILTIN_ATTRIBUTES = frozenset(name for value in (*_BUILTIN_CLASSES, *_RUNTIME_TYPES) for name in dir(value))
_SCOPES = (
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.Lambda,
    ast.ListComp,
    ast.SetComp,
    ast.DictComp,
    ast.GeneratorExp,
)
_TYPE_PARAMS = tuple(
    getattr(ast, name) for name in ("TypeVar", "ParamSpec", "TypeVarTuple") if hasattr(ast, name)
)


@dataclasses.dataclass(frozen=True)
class CodeScore:
    parses: bool  # ast.parse accepts the whole snippet
    used_names: int  # name reads plus attribute reads in the scored lines
    undefined_names: int  # of those, defined nowhere
    used_attributes: int  # how many of used_names are attribute reads
    unknown_attributes: int  # how many of undefined_names are attribute reads
    undefined: tuple[str, ...]  # each undefined use in source order, attributes as ".attr"
    lines_scored: int
    lines_total: int


def _parse(source: str) -> ast.Module | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # invalid escape sequences and the like are not our business
        try:
            return ast.parse(source)
        except (SyntaxError, ValueError):  # ValueError: null bytes, on older Pythons
            return None


def _import_names(node: ast.Import | ast.ImportFrom) -> set[str]:
    if isinstance(node, ast.Import):
        return {alias.asname or alias.name.split(".")[0] for alias in node.names}
    return {alias.asname or alias.name for alias in node.names if alias.name != "*"}


def _bound_names(tree: ast.AST) -> set[str]:
    """Every name the snippet binds anywhere (scope-insensitive)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= _import_names(node)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            names.update(node.names)
        elif isinstance(node, (ast.ExceptHandler, ast.MatchAs, ast.MatchStar, *_TYPE_PARAMS)) and node.name:
            names.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            names.add(node.rest)
    return names


def _level_names(node: ast.AST, names: set[str]) -> None:
    """Names bound at module or class level under ``node``, not inside functions or comprehensions."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(child.name)
            if isinstance(child, ast.ClassDef):
                _level_names(child, names)
            continue
        if isinstance(child, _SCOPES):
            continue
        if isinstance(child, ast.Name) and isinstance(child.ctx, ast.Store):
            names.add(child.id)
        elif isinstance(child, (ast.Import, ast.ImportFrom)):
            names |= _import_names(child)
        elif isinstance(child, ast.ExceptHandler) and child.name:
            names.add(child.name)
        _level_names(child, names)


def _attributes(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    _level_names(tree, names)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
    return names


def corpus_attributes(sources: Iterable[str]) -> frozenset[str]:
    """Every attribute name the sources define: assigned as an attribute anywhere (``self.x = ...``,
    ``x.y = ...``) and every function, class, assigned name and import bound at module or class level
    (inside ``if``/``try``/``with``/``for`` blocks too, not inside functions). Sources that do not
    parse are skipped."""
    names: set[str] = set()
    for source in sources:
        tree = _parse(source)
        if tree is not None:
            names |= _attributes(tree)
    return frozenset(names)


def _dotted_import_parts(tree: ast.Module) -> set[str]:
    """``path`` of ``import os.path``: an attribute the import itself vouches for."""
    modules: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.append(node.module)
    return {part for module in modules for part in module.split(".")[1:]}


def _parsing_prefix(snippet: str) -> tuple[ast.Module, int, bool]:
    lines = snippet.splitlines(keepends=True)
    tree = _parse(snippet)
    if tree is not None:
        return tree, len(lines), True
    for count in range(len(lines) - 1, -1, -1):
        tree = _parse("".join(lines[:count]))
        if tree is not None:
            return tree, count, False
    raise AssertionError("the empty prefix always parses")


def score_completion(snippet: str, known_attributes: frozenset[str] = frozenset()) -> CodeScore:
    """Undefined names among the names ``snippet`` uses; see the module's docstring for what counts."""
    if not isinstance(snippet, str):
        raise ValueError(f"snippet must be a str, got {type(snippet).__name__}")
    if isinstance(known_attributes, str):
        raise ValueError("known_attributes must be a set of names, got a str")
    if not snippet.strip():
        raise ValueError("snippet is empty: there is nothing to score")
    tree, lines_scored, parses = _parsing_prefix(snippet)
    bound = _bound_names(tree) | BUILTIN_NAMES
    attributes = (
        frozenset(known_attributes) | _attributes(tree) | _dotted_import_parts(tree) | BUILTIN_ATTRIBUTES
    )
    uses: list[tuple[int, int, str, bool]] = []  # (line, column, label, defined)
    used_attributes = 0
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            uses.append((node.lineno, node.col_offset, node.id, node.id in bound))
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
            used_attributes += 1
            position = (node.end_lineno or node.lineno, node.end_col_offset or node.col_offset)
            uses.append((*position, f".{node.attr}", node.attr in attributes))
    undefined = tuple(label for _, _, label, defined in sorted(uses) if not defined)
    return CodeScore(
        parses=parses,
        used_names=len(uses),
        undefined_names=len(undefined),
        used_attributes=used_attributes,
        unknown_attributes=sum(label.startswith(".") for label in undefined),
        undefined=undefined,
        lines_scored=lines_scored,
        lines_total=len(snippet.splitlines()),
    )


def share_parsing(snippets: Iterable[str]) -> float:
    """The share of snippets that ``ast.parse`` accepts whole."""
    snippets = list(snippets)
    if not snippets:
        raise ValueError("snippets is empty: no share of nothing")
    return sum(_parse(snippet) is not None for snippet in snippets) / len(snippets)


def undefined_share(scores: Iterable[CodeScore]) -> float:
    """Undefined names over used names, pooled over the scores (not a mean of per-snippet shares)."""
    scores = list(scores)
    if not scores:
        raise ValueError("scores is empty: no share of nothing")
    used = sum(score.used_names for score in scores)
    if used == 0:
        raise ValueError(f"the {len(scores)} scores use no names at all: the share is undefined")
    return sum(score.undefined_names for score in scores) / used


class _FreeNamesRenamed(ast.NodeTransformer):
    """Every name read that ``bound`` lacks, and every attribute read, renamed to one defined
    nowhere: a reader of the result finds the code's shape, and none of its free names."""

    def __init__(self, bound: set[str]):
        self.bound, self.names, self.attributes = bound, {}, {}

    def visit_Name(self, node: ast.Name) -> ast.Name:
        if isinstance(node.ctx, ast.Load) and node.id not in self.bound:
            node.id = self.names.setdefault(node.id, f"undefined_name_{len(self.names)}")
        return node

    def visit_Attribute(self, node: ast.Attribute) -> ast.Attribute:
        self.generic_visit(node)
        if isinstance(node.ctx, ast.Load):
            node.attr = self.attributes.setdefault(node.attr, f"undefined_attribute_{len(self.attributes)}")
        return node


def with_free_names_undefined(header: str, body: str) -> str:
    """``body`` (a function's, below ``header``; together they parse) with every name it reads
    that the snippet does not bind, builtins included, and every attribute it reads renamed to one
    defined nowhere, re-indented as the body was: the most undefined names that code of this
    shape can use, since its own locals stay bound. The ceiling of ``score_completion``'s share."""
    tree = _parse(header + body)
    if (
        tree is None
        or len(tree.body) != 1
        or not isinstance(tree.body[0], (ast.FunctionDef, ast.AsyncFunctionDef))
    ):
        raise ValueError("header + body must parse to one function definition")
    function = tree.body[0]
    renamer = _FreeNamesRenamed(_bound_names(tree))
    statements = [renamer.visit(statement) for statement in function.body]
    first = next(line for line in body.splitlines() if line.strip())
    indent = first[: len(first) - len(first.lstrip())]
    lines = "\n".join(ast.unparse(statement) for statement in statements).splitlines()
    return "".join(f"{indent}{line}\n" if line.strip() else "\n" for line in lines)

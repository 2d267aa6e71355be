"""The code model's hallucination scorer on snippets whose used and undefined names are counted by hand."""

from __future__ import annotations

import pytest

from genzoo.quality.code_names import corpus_attributes, score_completion, share_parsing, undefined_share


def counts(snippet, known=frozenset()):
    score = score_completion(snippet, known)
    return score.used_names, score.undefined_names, score.undefined


def test_the_brief_example():
    # used: a, b, len, c; undefined: b, c
    assert counts("def f(a):\n    return a + b + len(c)\n") == (4, 2, ("b", "c"))


@pytest.mark.parametrize(
    ("snippet", "used", "undefined"),
    [
        # imports: os, np, OD, xml bound; json not
        (
            "import os\nimport numpy as np\nfrom collections import OrderedDict as OD\nimport xml.etree\n"
            "os, np, OD, xml, json\n",
            5,
            ("json",),
        ),
        ("def f():\n    global counter\n    return counter\n", 1, ()),
        ("def f():\n    x = 0\n    def g():\n        nonlocal x\n        return x\n    return g\n", 2, ()),
        # comprehension targets: x, y read and bound; range builtin; z undefined
        ("[x * y for x in range(3) for y in z]\n", 4, ("z",)),
        ("{k: v for k, v in pairs}\n", 3, ("pairs",)),
        # lambda parameters, starred ones too: p, k bound, w not
        ("g = lambda p, *q, k=1, **kw: p + k + w + len(q) + len(kw)\n", 7, ("w",)),
        ("try:\n    pass\nexcept ValueError as err:\n    print(err)\n", 3, ()),
        # walrus: n bound; m read and undefined
        ("if (n := 10) > m:\n    print(n)\n", 3, ("m",)),
        ("with open(p) as fh:\n    for line in fh:\n        print(line)\n", 5, ("p",)),
        ("def f(a, /, b, *args, c, **kwargs):\n    return a, b, args, c, kwargs\n", 5, ()),
        ("class A:\n    pass\n\nA()\nB()\n", 2, ("B",)),
        ("del gone\nprint(gone)\n", 2, ()),  # scope-insensitive: a name bound anywhere counts everywhere
        ("def f():\n    x = 1\n\ndef g():\n    return x\n", 1, ()),  # likewise, another function's local
        # match captures: first, rest, v, others, px, pt bound; cmd and Point undefined
        (
            "match cmd:\n    case [first, *rest]:\n        print(first, rest)\n"
            "    case {'k': v, **others}:\n        print(v, others)\n"
            "    case Point(x=px) as pt:\n        print(px, pt)\n",
            11,
            ("cmd", "Point"),
        ),
        ("from m import *\nthing()\n", 1, ("thing",)),  # a star import binds nothing
    ],
)
def test_bound_names(snippet, used, undefined):
    assert counts(snippet)[0] == used
    assert counts(snippet)[2] == undefined


def test_builtins_are_defined():
    snippet = "print(len(range(3)), __name__, __file__, ValueError, Ellipsis, __import__)\n"
    assert counts(snippet) == (8, 0, ())


def test_attributes_are_checked_against_the_known_set():
    snippet = "def f(model, x):\n    return model.forward(x) + model.fly(x) + x.append\n"
    score = score_completion(snippet, frozenset({"forward"}))
    # names: model, x, model, x, x; attributes: forward, fly, append (a list's, a builtin attribute)
    assert (score.used_names, score.used_attributes) == (8, 3)
    assert (score.undefined_names, score.unknown_attributes, score.undefined) == (1, 1, (".fly",))
    assert score_completion(snippet, frozenset({"forward", "fly"})).undefined_names == 0
    assert score_completion(snippet).undefined == (".forward", ".fly")


def test_only_the_attribute_is_checked_never_the_object():
    # `x` undefined as a name, `.colour` unknown as an attribute: two, whatever x would be
    assert counts("y = x.colour\n") == (2, 2, ("x", ".colour"))
    assert counts("y = x.colour\n", frozenset({"colour"})) == (2, 1, ("x",))


def test_attributes_the_snippet_defines_are_known():
    snippet = (
        "class A:\n    def __init__(self):\n        self.size = 1\n\n"
        "    def grow(self):\n        return self.size + self.grow() + self.weight\n"
    )
    # names: self x4 (`self.size = 1` reads self); attributes: size, grow, weight
    assert counts(snippet) == (7, 1, (".weight",))
    assert counts("import os.path\nos.path.join('a', 'b')\n") == (
        3,
        0,
        (),
    )  # path from the import, join str's


def test_truncated_completion_is_scored_on_its_parsing_prefix():
    snippet = "def f(a):\n    b = a * 2\n    return b + undefined_thing(\n"
    score = score_completion(snippet)
    assert not score.parses
    assert (score.lines_scored, score.lines_total) == (2, 3)
    assert (score.used_names, score.undefined_names) == (1, 0)  # `a` in `b = a * 2`


def test_snippet_that_does_not_parse_at_all():
    score = score_completion("x = = 1\nprint(x)\n")
    assert not score.parses
    assert (score.lines_scored, score.lines_total, score.used_names, score.undefined_names) == (0, 2, 0, 0)


def test_whole_snippet_parses():
    score = score_completion("x = 1\nprint(x)")
    assert score.parses and score.lines_scored == score.lines_total == 2


def test_empty_input_is_an_error():
    for snippet in ("", "  \n\n"):
        with pytest.raises(ValueError, match="snippet is empty"):
            score_completion(snippet, frozenset())
    with pytest.raises(ValueError, match="snippet must be a str"):
        score_completion(None, frozenset())
    with pytest.raises(ValueError, match="known_attributes"):
        score_completion("x.y", "y")
    with pytest.raises(ValueError, match="snippets is empty"):
        share_parsing([])
    with pytest.raises(ValueError, match="scores is empty"):
        undefined_share([])
    with pytest.raises(ValueError, match="use no names"):
        undefined_share([score_completion("pass\n")])


def test_share_parsing():
    assert share_parsing(["x = 1\n", "def (:\n", "y = x\n"]) == pytest.approx(2 / 3)
    assert share_parsing(iter(["x = 1\n"])) == 1.0


def test_undefined_share_is_pooled():
    two_of_four = score_completion("def f(a):\n    return a + b + len(c)\n")
    one_of_one = score_completion("x = y\n")
    assert undefined_share([two_of_four, one_of_one]) == 3 / 5  # not the mean of 1/2 and 1


def test_corpus_attributes():
    source = (
        "import os\nfrom typing import Any as Anything\nLIMIT = 3\nfirst, *others = (1, 2)\n"
        "if os.name:\n    def conditional():\n        pass\n"
        "try:\n    import json\nexcept ImportError as missing:\n    json = None\n"
        "def top(a):\n    local = a\n    def nested():\n        pass\n    a.tag = local\n    return nested\n"
        "class Model:\n    scale: float = 1.0\n    class Inner:\n        depth = 2\n"
        "    def __init__(self):\n        self.weight = 0\n        self.cache, self.hits = {}, 0\n"
        "    def forward(self, x):\n        x.grad += 1\n        return [y for y in x]\n"
        "async def fetch():\n    pass\n"
    )
    expected = {
        "os",
        "Anything",
        "LIMIT",
        "first",
        "others",
        "conditional",
        "json",
        "missing",
        "top",
        "Model",
        "scale",
        "Inner",
        "depth",
        "__init__",
        "forward",
        "fetch",
        "tag",
        "weight",
        "cache",
        "hits",
        "grad",
    }
    assert corpus_attributes([source, "def broken(:\n"]) == frozenset(expected)  # no local, nested, a, y
    assert corpus_attributes(["class B:\n    def m(self):\n        pass\n"]) == {"B", "m"}
    assert corpus_attributes([]) == frozenset()

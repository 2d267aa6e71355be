"""Hallucination figures of completed held-out functions, on fake models whose answer is known: one
that writes the real body (the floor), one that writes its tokens shuffled, one that calls an
invented API; and the untrained tiny LLM through ``llm_completer``, for the plumbing."""

from __future__ import annotations

import ast
import dataclasses

import pytest
import torch

from genzoo.models import code_tokenizer, llm
from genzoo.models.data import load_code_corpus
from genzoo.quality import code_completions as cc
from genzoo.quality.code_names import corpus_attributes, score_completion, with_free_names_undefined
from genzoo.quality.inputs import QualityInputError

# cpu's limits, fewer prompts and replicates: the tests check direction and plumbing, not coverage
SETTINGS = dataclasses.replace(cc.PRESETS["cpu"], prompts=24, resamples=200)


@pytest.fixture(scope="module")
def corpus():
    return load_code_corpus()


@pytest.fixture(scope="module")
def tokenizer(corpus):
    return code_tokenizer.load_or_train(llm.TOKENIZER, corpus)


@pytest.fixture(scope="module")
def known(corpus):
    return corpus_attributes(source.decode("utf-8") for source in corpus.train_modules)


@pytest.fixture(scope="module")
def prompts(corpus):
    limits = dict(max_header_bytes=SETTINGS.max_header_bytes, max_body_bytes=SETTINGS.max_body_bytes)
    return cc.function_prompts(corpus, SETTINGS.prompts, SETTINGS.seed, **limits)


def intervals_of(prompts, completions, known, seed=0):
    scores = cc.hallucination_scores(prompts, completions, known)
    return cc.hallucination_intervals(scores, resamples=SETTINGS.resamples, seed=seed)


def functions_named(source: str, qualified: str) -> list[ast.AST]:
    """The module- and class-level functions of ``source`` called ``qualified`` ("Class.method"):
    more than one where a name is defined twice (a property's getter and setter)."""
    found = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                found.extend([child] if prefix + child.name == qualified else [])
            else:
                visit(child, f"{prefix}{child.name}." if isinstance(child, ast.ClassDef) else prefix)

    visit(ast.parse(source), "")
    return found


def test_prompts_are_held_out_functions_whose_header_and_body_reparse_to_them(corpus, prompts):
    assert len(prompts) == SETTINGS.prompts
    assert len({(p.module, p.name, p.header) for p in prompts}) == len(prompts)  # drawn without replacement
    sources = dict(zip(corpus.validation_files, corpus.validation_modules))
    for prompt in prompts:
        assert prompt.module in corpus.validation_files and prompt.module not in corpus.train_files
        assert prompt.header.startswith(("def ", "async def ")) and prompt.header.endswith(":\n")
        assert prompt.body.startswith((" ", "\t")) and prompt.body.endswith("\n")
        (reparsed,) = ast.parse(prompt.header + prompt.body).body
        originals = functions_named(sources[prompt.module].decode("utf-8"), prompt.name)
        assert cc.function_shape(reparsed) in {cc.function_shape(node) for node in originals}
        assert len(prompt.body.encode()) <= SETTINGS.max_body_bytes
        assert len(prompt.header.encode()) <= SETTINGS.max_header_bytes


def test_a_model_that_writes_the_real_body_scores_exactly_like_the_floor(corpus, tokenizer, prompts):
    def real_body_then_more(prompt: bytes, seed: int) -> bytes:
        chosen = prompts[seed - SETTINGS.seed]
        assert prompt == chosen.header.encode()
        # after the function: a column-0 line, then garbage that end_of_function must drop
        return (chosen.body + "\nprint(not_defined)\n    ) = (\n").encode()

    rows = cc.hallucination_rows(real_body_then_more, tokenizer, corpus, SETTINGS)
    by_key = {(row.subject, row.metric): row for row in rows}
    assert set(by_key) == {
        (subject, metric)
        for subject in ("llm", cc.REAL_CODE_ANCHOR, cc.SHUFFLED_CODE_ANCHOR, cc.RENAMED_CODE_ANCHOR)
        for metric in ("parse_share", "undefined_name_share")
    }
    for metric, better in cc.BETTER.items():
        model, floor = by_key["llm", metric], by_key[cc.REAL_CODE_ANCHOR, metric]
        assert (model.value, model.ci_low, model.ci_high) == (floor.value, floor.ci_low, floor.ci_high)
        assert model.better == floor.better == better
    assert by_key[cc.REAL_CODE_ANCHOR, "parse_share"].value == 1.0  # every real function parses
    # the shuffled tokens parse less often than the real bodies, beyond both intervals
    assert (
        by_key[cc.SHUFFLED_CODE_ANCHOR, "parse_share"].ci_high
        < by_key[cc.REAL_CODE_ANCHOR, "parse_share"].ci_low
    )
    for row in rows:
        assert row.kind == "quality" and row.case == f"n={SETTINGS.prompts}"
        assert row.samples == SETTINGS.prompts and row.ci_low <= row.value <= row.ci_high
    assert by_key["llm", "parse_share"].seeds == f"0-{SETTINGS.prompts - 1}"
    assert by_key["llm", "parse_share"].knobs == (("temperature", SETTINGS.temperature),)
    assert by_key[cc.REAL_CODE_ANCHOR, "parse_share"].seeds == ""  # the real bodies draw nothing
    assert (
        f"{SETTINGS.prompts} of {SETTINGS.prompts} completions"
        in by_key[cc.REAL_CODE_ANCHOR, "parse_share"].note
    )


def test_the_renamed_bodies_parse_and_bound_the_undefined_share_from_above(prompts, known):
    """The undefined share's ceiling: the real bodies with every free name renamed parse like them,
    and use undefined names far more often, beyond both intervals."""
    real = intervals_of(prompts, [p.body for p in prompts], known)
    renamed = intervals_of(prompts, [with_free_names_undefined(p.header, p.body) for p in prompts], known)
    assert renamed["parse_share"].estimate == 1.0
    assert renamed["undefined_name_share"].low > real["undefined_name_share"].high
    assert renamed["undefined_name_share"].high < 1.0  # self, parameters and locals stay bound


def test_renaming_makes_exactly_the_free_names_and_attributes_undefined():
    header = "def f(x, y=2):\n"
    body = "    z = len(x) + math.pi\n    if z:\n        return helper(y).value\n"
    renamed = with_free_names_undefined(header, body)
    assert renamed.splitlines()[1] == "    if z:" and renamed.splitlines()[2].startswith("        return ")
    score = score_completion(header + renamed)
    # x, y, z stay bound; len, math, helper and .pi, .value do not (2 + 3 of 8 reads: x, z, y too)
    assert score.parses and score.used_names == 8 and score.undefined_names == 5
    assert score_completion(header + body).undefined_names == 4  # len is a builtin
    with pytest.raises(ValueError, match="one function definition"):
        with_free_names_undefined("x = 1\n", "y = 2\n")


def test_shuffled_tokens_parse_less_often_beyond_the_intervals(prompts, tokenizer, known):
    real = intervals_of(prompts, [p.body for p in prompts], known)
    shuffled = [cc.shuffled_tokens(p.body, tokenizer, seed) for seed, p in enumerate(prompts)]
    assert shuffled[0] != prompts[0].body and sorted(shuffled[0]) == sorted(prompts[0].body)  # reordered
    garbage = intervals_of(prompts, shuffled, known)
    assert garbage["parse_share"].high < real["parse_share"].low
    assert garbage["parse_share"].estimate < 0.5


def first_statement_indent(body: str) -> str:
    line = next(line for line in body.splitlines() if line.strip() and not line.lstrip().startswith("#"))
    return line[: len(line) - len(line.lstrip())]


def test_an_invented_api_has_a_higher_undefined_share_beyond_the_intervals(prompts, known):
    invented = [
        f"{first_statement_indent(p.body)}undefined_helper(self.frobnicate_widget())\n{p.body}"
        for p in prompts
    ]
    real = intervals_of(prompts, [p.body for p in prompts], known)
    hallucinating = intervals_of(prompts, invented, known)
    assert hallucinating["undefined_name_share"].low > real["undefined_name_share"].high
    assert hallucinating["parse_share"].estimate == real["parse_share"].estimate == 1.0
    for score in cc.hallucination_scores(prompts, invented, known):
        assert {"undefined_helper", ".frobnicate_widget"} <= set(score.undefined)


def test_names_the_functions_own_module_defines_are_no_hallucination(known):
    body = "    return helper(self._secret) + self.invented()\n"
    alone = cc.FunctionPrompt("m.py", "f", "def f(self):\n", body)
    in_module = dataclasses.replace(alone, module_names=frozenset({"helper", "_secret"}))
    assert cc.hallucination_scores([alone], [body], known)[0].undefined == ("helper", "._secret", ".invented")
    assert cc.hallucination_scores([in_module], [body], known)[0].undefined == (".invented",)


def test_prompts_carry_their_modules_names(prompts):
    fraction_methods = [p for p in prompts if p.module == "fractions.py"]
    assert fraction_methods and all({"Fraction", "_numerator"} <= p.module_names for p in fraction_methods)
    assert all("frobnicate_widget" not in p.module_names for p in prompts)


def test_intervals_contain_the_estimate_and_are_seeded(prompts, known):
    completions = [p.body for p in prompts]
    first, again, other = (intervals_of(prompts, completions, known, seed) for seed in (3, 3, 4))
    assert first == again
    assert first["undefined_name_share"] != other["undefined_name_share"]
    scores = cc.hallucination_scores(prompts, completions, known)
    pooled = sum(s.undefined_names for s in scores) / sum(s.used_names for s in scores)
    assert first["undefined_name_share"].estimate == pytest.approx(pooled)  # pooled, not a mean of shares
    for interval in first.values():
        assert interval.low <= interval.estimate <= interval.high and interval.n == len(prompts)


@pytest.mark.parametrize(
    ("completion", "expected"),
    [
        ("    return x\n\n    y = 1\nclass A:\n    pass\n", "    return x\n\n    y = 1\n"),
        ("    return x\n# a column-0 comment ends it too\n", "    return x\n"),
        ("    return x<|endoftext|>def g():\n", "    return x"),
        ("def g():\n    pass\n", ""),  # a body that never starts
        ("    return (x +", "    return (x +"),  # out of tokens mid-line: kept as it is
    ],
)
def test_a_completion_ends_at_the_first_line_as_shallow_as_the_def(completion, expected):
    assert cc.end_of_function(completion) == expected


def test_bad_input_fails_with_a_clear_error(corpus, prompts, known):
    limits = dict(max_header_bytes=SETTINGS.max_header_bytes, max_body_bytes=SETTINGS.max_body_bytes)
    with pytest.raises(QualityInputError, match="count"):
        cc.function_prompts(corpus, 0, 0, **limits)
    with pytest.raises(QualityInputError, match=r"count=10000 .* only \d+ functions"):
        cc.function_prompts(corpus, 10_000, 0, **limits)
    with pytest.raises(QualityInputError, match="prompts is empty"):
        cc.hallucination_scores((), ["    pass\n"], known)
    with pytest.raises(QualityInputError, match="completions is empty"):
        cc.hallucination_scores(prompts, [], known)
    with pytest.raises(QualityInputError, match="completions has 1 entries for 24 prompts"):
        cc.hallucination_scores(prompts, ["    pass\n"], known)
    scores = cc.hallucination_scores(prompts, [p.body for p in prompts], known)
    with pytest.raises(QualityInputError, match="scores has 1 snippets"):
        cc.hallucination_intervals(scores[:1], resamples=200, seed=0)


def test_snippets_that_use_no_names_have_a_parse_share_only(known):
    bare = [cc.FunctionPrompt("m.py", "f", "def f():\n", "    pass\n")] * 2
    nameless = cc.hallucination_scores(bare, ["    pass\n", "    ) = (\n"], known)
    assert cc.hallucination_intervals(nameless, resamples=200, seed=0)["parse_share"].estimate == 0.5
    assert set(cc.hallucination_intervals(nameless, resamples=200, seed=0)) == {"parse_share"}


def test_the_tiny_llm_completes_every_tiny_prompt_within_its_context(corpus, tokenizer):
    torch.manual_seed(0)
    model = llm.CodeGPT(llm.PRESETS["tiny"], tokenizer).eval()  # untrained: the plumbing, not quality
    settings = cc.PRESETS["tiny"]
    complete = cc.llm_completer(model, settings)
    header = b"def f(x):\n"
    completion = complete(header, 0)
    assert completion == complete(header, 0) != complete(header, 1)  # seeded, per prompt
    room = model.config.context - len(llm.prompt_tokens(model, header))
    assert len(completion) >= room  # every token of the room was generated, each at least one byte
    rows = cc.hallucination_rows(complete, tokenizer, corpus, dataclasses.replace(settings, resamples=200))
    assert {row.samples for row in rows} == {settings.prompts}
    metrics = {
        subject: {row.metric for row in rows if row.subject == subject}
        for subject in ("llm", cc.REAL_CODE_ANCHOR)
    }
    assert metrics[cc.REAL_CODE_ANCHOR] == set(cc.BETTER)
    # the untrained model's garbage may use no names in lines that parse: then its row says so
    assert "parse_share" in metrics["llm"]
    if "undefined_name_share" not in metrics["llm"]:
        assert all(
            "0 of 4 completions, so no undefined_name_share row" in row.note
            for row in rows
            if row.subject == "llm"
        )
    with pytest.raises(QualityInputError, match="leaves no room"):
        complete(b"def f(" + b", ".join(b"a%d" % i for i in range(60)) + b"):\n", 0)

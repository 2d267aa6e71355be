"""The claims each family declares, answered from the numbers and their intervals: a planted
difference gets *holds* (or *does not hold* when reversed), a difference inside the noise *not
resolved at this N*, missing rows *cannot be tested*; and the cross-family table of each family's
best point, chosen on one seed set and reported on another."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from genzoo.measurement import Measurement, to_frame
from genzoo.models import protocol
from genzoo.report import claims, cross_family
from genzoo.results import typed_table

FINGERPRINT = {"hostname": "h", "device_name": "d"}
N = 128


def _quality(family, case, metric, value, half, better="lower", knobs=(), samples=N):
    return Measurement(
        "quality",
        family,
        "eager",
        "float32",
        case,
        metric,
        value,
        "",
        better=better,
        ci_low=value - half,
        ci_high=value + half,
        samples=samples,
        knobs=knobs,
    )


def _rows(family, fid, speed, sharpness, unit="images", half=0.5):
    """One sweep point: its speed (rounds' p20-p80 within 5%), FID at the equal n, sharpness."""
    return [
        Measurement(
            "sweep",
            family,
            "eager",
            "float32",
            "default",
            f"{unit}_per_s",
            speed,
            f"{unit}/s",
            better="higher",
            p20=0.95 * speed,
            p80=1.05 * speed,
        ),
        _quality(family, "default", "fid_equal_n", fid, half),
        _quality(family, "default", "sharpness_ratio", sharpness, 0.05, better=""),
    ]


def _seeds(family, fids, half):
    """The family's FID per training seed, each with its sampling interval."""
    return [
        _quality(family, f"default train_seed={seed}", "fid", fid, half, knobs=(("train_seed", seed),))
        for seed, fid in enumerate(fids)
    ]


def _table(rows) -> pd.DataFrame:
    return typed_table(to_frame(rows, FINGERPRINT))


def _verdict(sentences: list[str], family: str) -> str:
    """What the report says about ``family``'s (one) claim."""
    (claim,) = protocol.get(family).claims
    return _verdict_sentence(sentences, family).split(f"'{claim.text}' ", 1)[1].split(":", 1)[0]


def _claims(diffusion_fid, gan_speed, vae_sharpness, gan_seed_fids, vae_path):
    rows = (
        _rows("diffusion", diffusion_fid, 2.0, 0.9)
        + _rows("gan", 20.0, gan_speed, 1.1)
        + _rows("vae", 40.0, 800.0, vae_sharpness)
        + _seeds("gan", gan_seed_fids, 0.5)
        + _seeds("vae", (40.0, 40.1, 39.9), 0.5)
        + _seeds("diffusion", (5.0, 5.1, 4.9), 0.5)
        + [
            _quality("vae", "latent interpolations", "latent_path_ratio", vae_path, 0.05, samples=64),
            _quality("gan", "latent interpolations", "latent_path_ratio", 1.6, 0.05, samples=64),
        ]
    )
    sentences = claims.claims(_table(rows))
    return {f: _verdict(sentences, f) for f in ("diffusion", "gan", "vae")}, sentences


def test_planted_differences_decide_each_claim_either_way():
    # GAN seeds spread by 20 FID against a sampling spread of ~0.26; the others' by 0.1
    verdicts, sentences = _claims(5.0, 900.0, 0.4, (10.0, 30.0, 50.0), 1.1)
    assert verdicts == {"diffusion": "holds", "gan": "holds", "vae": "holds"}
    assert any("difference -15 [" in s for s in sentences), "the effect is reported with its interval"
    # diffusion worse than the GAN; the GAN slower than the VAE; the VAE's paths the more crooked
    flipped, _ = _claims(50.0, 700.0, 0.4, (10.0, 30.0, 50.0), 2.5)
    assert flipped == {"diffusion": "does not hold", "gan": "does not hold", "vae": "does not hold"}


def test_sharpness_compares_across_sample_sizes_and_fid_does_not():
    """A mean over images keeps its expected value at any n (only its interval widens); FID's moves."""
    rows = (
        _rows("diffusion", 5.0, 2.0, 0.9)
        + _rows("gan", 20.0, 900.0, 1.1)
        + _rows("vae", 40.0, 800.0, 0.4)
        + [_quality("vae", "latent interpolations", "latent_path_ratio", 1.1, 0.05, samples=64)]
        + [_quality("gan", "latent interpolations", "latent_path_ratio", 1.6, 0.05, samples=64)]
    )
    rows = [dataclasses.replace(r, samples=128 if r.subject == "diffusion" else 500) for r in rows]
    sentences = claims.claims(_table(rows))
    assert _verdict(sentences, "vae") == "holds"  # blurrier than diffusion at n=128 and the GAN at 500
    assert "at n=128 and n=500" in _verdict_sentence(sentences, "diffusion")  # FID: not compared


def _verdict_sentence(sentences: list[str], family: str) -> str:
    (claim,) = protocol.get(family).claims
    (sentence,) = [s for s in sentences if f"'{claim.text}'" in s]
    return sentence


def test_differences_inside_the_noise_are_not_resolved():
    # diffusion 19.5 vs GAN 20 with +-0.5 each; GAN seeds as steady as the others; sharpness ties
    verdicts, _ = _claims(19.5, 900.0, 0.9, (20.0, 20.1, 19.9), 1.58)
    assert verdicts == {
        "diffusion": "not resolved at this N",
        "gan": "not resolved at this N",
        "vae": "not resolved at this N",
    }


def test_a_family_alone_or_without_its_rows_cannot_be_tested():
    alone = claims.claims(_table(_rows("diffusion", 5.0, 2.0, 0.9)))
    assert _verdict(alone, "diffusion") == "cannot be tested"
    # both compared, but no seed spread measured: "fastest" holds, "unstable" is unanswered
    unmeasured = claims.claims(_table(_rows("gan", 20.0, 900.0, 1.1) + _rows("vae", 40.0, 800.0, 0.4)))
    assert _verdict(unmeasured, "gan") == "cannot be tested"
    # figures without intervals decide nothing
    bare = [
        Measurement("quality", f, "eager", "float32", "default", "fid_equal_n", v, "", better="lower")
        for f, v in (("diffusion", 5.0), ("gan", 20.0))
    ]
    speeds = [r for f in ("diffusion", "gan") for r in _rows(f, 1.0, 10.0, 1.0) if r.kind == "sweep"]
    assert "cannot be tested" in " ".join(claims.claims(_table(bare + speeds)))


def test_families_unknown_to_this_install_have_no_claims_and_ops_none():
    rows = _rows("not-a-family", 5.0, 2.0, 0.9) + [
        Measurement("op", "ddim_step", "eager", "float32", "n=8", "latency", 1e-5, "s", better="lower")
    ]
    assert claims.claims(_table(rows)) == []


@pytest.fixture
def toy_family():
    """A family registered from outside genzoo.models, claiming to be the fastest."""
    family = protocol.Family(
        name="toy",
        unit="images",
        presets={p: None for p in protocol.PRESETS},
        knobs=(),
        ops=(),
        load_data=None,
        build=None,
        make_training_step=None,
        sample=None,
        evaluate=None,
        write_preview=None,
        headline=protocol.Headline("fid", "lower", 0.1),
        sweep_plan=None,
        benchmark_cases={},
        claims=(protocol.Claim("toys: fastest", ("fastest",)),),
    )
    protocol.register(family)
    yield family
    protocol.unregister(family.name)


def test_the_claims_are_the_families_declarations(toy_family):
    slow = claims.claims(_table(_rows("toy", 30.0, 10.0, 1.0) + _rows("vae", 40.0, 800.0, 0.4)))
    assert [s for s in slow if "'toys: fastest' does not hold" in s]
    fast = claims.claims(_table(_rows("toy", 30.0, 9000.0, 1.0) + _rows("vae", 40.0, 800.0, 0.4)))
    assert [s for s in fast if "'toys: fastest' holds" in s]
    close = claims.claims(_table(_rows("toy", 30.0, 820.0, 1.0) + _rows("vae", 40.0, 800.0, 0.4)))
    assert [s for s in close if "'toys: fastest' not resolved at this N" in s]


def test_the_best_point_is_chosen_on_the_sweep_and_reported_on_fresh_seeds():
    rows = _rows("vae", 40.0, 800.0, 0.4)
    worse = _rows("vae", 90.0, 9000.0, 0.4)
    rows += [dataclasses.replace(r, case="worse") for r in worse]
    fresh = _quality("vae", "default fresh seeds", "fid_equal_n", 43.0, 0.7, knobs=(("seed_set", "fresh"),))
    rows += [
        fresh,
        Measurement(
            "quality", "vae", "eager", "bfloat16", "default", "fid_equal_n", 10.0, "", better="lower"
        ),
        # a training seed's better figure is not a candidate point
        _quality("vae", "default train_seed=1", "fid_equal_n", 1.0, 0.5, knobs=(("train_seed", 1),)),
        Measurement(
            "sweep", "llm", "eager", "float32", "p=64", "tokens_per_s", 300.0, "tokens/s", better="higher"
        ),
        Measurement("quality", "llm", "eager", "float32", "p=64", "bits_per_byte", 2.3, "", better="lower"),
    ]
    best = cross_family.best_points(_table(rows)).set_index("family")
    vae = best.loc["vae"]
    assert (vae["case"], vae["candidates"], vae["confirmed"], vae["reported_case"]) == (
        "default",
        2,
        True,
        "default fresh seeds",
    )
    assert (vae["quality"], vae["quality_low"], vae["quality_high"]) == pytest.approx((43.0, 42.3, 43.7))
    assert best.loc["llm", ["metric", "unit", "confirmed"]].tolist() == ["bits_per_byte", "tokens/s", False]
    assert cross_family.best_points(typed_table(pd.DataFrame(columns=to_frame([]).columns))).empty


def _code_rows(parse, undefined, ceilings=()):
    rows = []
    for subject, (p, u) in (("llm", (parse, undefined)), ("anchor_real_code", (1.0, 0.01)), *ceilings):
        for metric, value, better in (("parse_share", p, "higher"), ("undefined_name_share", u, "lower")):
            rows.append(
                Measurement(
                    "quality",
                    subject,
                    "-",
                    "-",
                    "n=48",
                    metric,
                    value,
                    "",
                    better=better,
                    ci_low=max(value - 0.05, 0.0),
                    ci_high=value + 0.05,
                    samples=48,
                )
            )
    return rows


@pytest.mark.parametrize(
    "parse, undefined, verdict",
    [
        (0.2, 0.01, "holds"),
        (1.0, 0.3, "holds"),
        (1.0, 0.01, "not resolved at this N"),
        (0.99, 0.02, "not resolved at this N"),
    ],
)
def test_hallucinations_are_judged_against_the_real_continuations(parse, undefined, verdict):
    evidence = claims.Evidence(_table(_code_rows(parse, undefined)), pd.DataFrame(), pd.DataFrame())
    assert claims.hallucinates(evidence, "llm").status == verdict


def test_the_hallucination_evidence_shows_each_metrics_ceiling():
    ceilings = (("anchor_shuffled_code", (0.02, 0.9)), ("anchor_renamed_code", (1.0, 0.46)))
    evidence = claims.Evidence(_table(_code_rows(0.2, 0.01, ceilings)), pd.DataFrame(), pd.DataFrame())
    parse, undefined = claims.hallucinates(evidence, "llm").evidence.split("; ")
    assert "ceiling 0.02" in parse and "ceiling 0.46" in undefined


@pytest.mark.parametrize("samples, said", [(200, "1.6x as wide"), (50, "3.2x as wide"), (500, None)])
def test_the_claims_table_says_how_much_wider_a_smaller_runs_intervals_are(samples, said):
    from genzoo.report import tables

    rows = _rows("gan", 10.0, 900.0, 1.1) + _rows("vae", 40.0, 800.0, 0.5) + _seeds("gan", (10, 11, 12), 1.0)
    rows = [dataclasses.replace(r, samples=samples) if r.kind == "quality" else r for r in rows]
    (table,) = tables.claim_tables(_table(rows))
    if said is None:
        assert "samples a point" not in table.note
    else:
        assert f"at most n = {samples} samples a point" in table.note and said in table.note

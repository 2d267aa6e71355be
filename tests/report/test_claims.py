"""The claims each family declares, answered from the numbers either way, and the cross-family
table of each family's best point. Verdicts are read as a user reads them: the claim's text with
"holds", "does not hold" or "cannot be tested"."""

from __future__ import annotations

import pandas as pd
import pytest

from genzoo.measurement import Measurement, to_frame
from genzoo.models import protocol
from genzoo.report import claims, cross_family
from genzoo.results import typed_table

FINGERPRINT = {"hostname": "h", "device_name": "d"}


def _rows(family, fid, speed, sharpness, unit="images"):
    common = dict(backend="eager", dtype="float32", case="default")
    return [
        Measurement(
            "sweep", family, metric=f"{unit}_per_s", value=speed, unit=f"{unit}/s", better="higher", **common
        ),
        Measurement("quality", family, metric="fid", value=fid, unit="", better="lower", **common),
        Measurement("quality", family, metric="sharpness_ratio", value=sharpness, unit="", **common),
    ]


def _table(rows) -> pd.DataFrame:
    return typed_table(to_frame(rows, FINGERPRINT))


def _verdict(sentences: list[str], family: str) -> str:
    """What the report says about ``family``'s (one) claim: holds, does not hold, cannot be tested."""
    (claim,) = protocol.get(family).claims
    (sentence,) = [s for s in sentences if f"'{claim.text}'" in s]
    return sentence.split(f"'{claim.text}' ", 1)[1].split(":", 1)[0]


def test_a_planted_difference_decides_each_claim_either_way():
    cv = Measurement("quality", "gan", "eager", "float32", "seeds=3", "fid_seed_cv", 0.3, "", better="lower")
    path = Measurement("quality", "vae", "eager", "float32", "held-out", "latent_path_ratio", 1.1, "")
    sentences = claims.claims(
        _table(
            _rows("diffusion", 5.0, 2.0, 0.9)
            + _rows("gan", 20.0, 900.0, 1.1)
            + _rows("vae", 40.0, 800.0, 0.4)
            + [cv, path]
        )
    )
    assert {f: _verdict(sentences, f) for f in ("diffusion", "gan", "vae")} == {
        "diffusion": "holds",
        "gan": "holds",
        "vae": "holds",
    }
    assert any("variation of 0.3," in s for s in sentences), "the seed spread is reported with its value"

    # diffusion worse than the GAN; the GAN slower than the VAE; the GAN the least sharp
    flipped = claims.claims(
        _table(
            _rows("diffusion", 50.0, 2.0, 0.9)
            + _rows("gan", 20.0, 700.0, 0.3)
            + _rows("vae", 40.0, 800.0, 0.4)
            + [cv, path]
        )
    )
    assert {f: _verdict(flipped, f) for f in ("diffusion", "gan", "vae")} == {
        "diffusion": "does not hold",
        "gan": "does not hold",
        "vae": "does not hold",
    }


def test_a_family_alone_or_without_its_rows_cannot_be_tested():
    alone = claims.claims(_table(_rows("diffusion", 5.0, 2.0, 0.9)))
    assert _verdict(alone, "diffusion") == "cannot be tested"
    # both compared, but no seed spread measured: "fastest" holds, "unstable" is unanswered
    unmeasured = claims.claims(_table(_rows("gan", 20.0, 900.0, 1.1) + _rows("vae", 40.0, 800.0, 0.4)))
    assert _verdict(unmeasured, "gan") == "cannot be tested"


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


def test_best_points_take_each_familys_best_headline_point_and_its_unit():
    rows = _rows("vae", 40.0, 800.0, 0.4) + [
        Measurement(
            "sweep",
            "vae",
            "eager",
            "float32",
            "batch=64",
            "images_per_s",
            5000.0,
            "images/s",
            better="higher",
        ),
        Measurement("quality", "vae", "eager", "bfloat16", "default", "fid", 10.0, "", better="lower"),
        Measurement("quality", "vae", "eager", "float32", "worse", "fid", 90.0, "", better="lower"),
        Measurement(
            "sweep", "vae", "eager", "float32", "worse", "images_per_s", 9000.0, "images/s", better="higher"
        ),
    ]
    rows += [
        Measurement(
            "sweep", "llm", "eager", "float32", "p=64", "tokens_per_s", 300.0, "tokens/s", better="higher"
        ),
        Measurement("quality", "llm", "eager", "float32", "p=64", "bits_per_byte", 2.3, "", better="lower"),
    ]
    best = cross_family.best_points(_table(rows)).set_index("family")
    assert best.loc["vae", ["case", "quality", "throughput", "unit"]].tolist() == [
        "default",
        40.0,
        800.0,
        "images/s",
    ]
    assert best.loc["llm", ["metric", "unit"]].tolist() == ["bits_per_byte", "tokens/s"]
    assert cross_family.best_points(typed_table(pd.DataFrame(columns=to_frame([]).columns))).empty

"""The evidence the claims need, measured alike for every image family: each training seed's
quality on the same sampling seeds, the best point again on fresh seeds, latent interpolations."""

from __future__ import annotations

import dataclasses
import types

import pytest
import torch

from genzoo.measurement import Measurement, to_frame
from genzoo.models import protocol
from genzoo.quality import FEATURE_NET_PRESETS, ImageQualityConfig, ImageQualityReference
from genzoo.results.schema import FRESH_SEEDS
from genzoo.sweeps.claim_evidence import FRESH_SEED, ImageEvidence
from genzoo.sweeps.plan import SETTINGS


@pytest.fixture(scope="module")
def reference():
    return ImageQualityReference(ImageQualityConfig(feature_net=FEATURE_NET_PRESETS["tiny"], resamples=20))


def untrained(name: str, seed: int):
    family = protocol.get(name)
    config = dataclasses.replace(family.config("tiny"), seed=seed)
    return types.SimpleNamespace(model=family.build(config).eval(), config=config)


def evidence(name: str, reference) -> ImageEvidence:
    return ImageEvidence(protocol.get(name), SETTINGS["tiny"], reference, "cpu")


def test_each_training_seed_is_scored_at_the_reference_point_on_the_same_sampling_seeds(reference):
    rows = to_frame(
        evidence("gan", reference).training_seeds([untrained("gan", 0), untrained("gan", 3)], "tiny", [])
    )
    fid = rows[(rows["subject"] == "gan") & (rows["metric"] == "fid")]
    assert sorted(fid["knob_train_seed"]) == [0, 3]
    assert set(fid["seeds"]) == {"1000,1001"} and set(fid["samples"]) == {SETTINGS["tiny"].quality_samples}
    assert (fid["ci_low"] < fid["value"]).all() and (fid["value"] < fid["ci_high"]).all()
    assert fid["value"].nunique() == 2  # two generators, two figures
    assert evidence("gan", reference).training_seeds([untrained("gan", 0)], "tiny", []) == []


def test_the_first_training_seed_reuses_the_sweeps_reference_rows_instead_of_sampling_again(reference):
    """The sweep scored the first seed's model at the reference point already: its rows, relabelled,
    are exactly what scoring it again would give."""
    seeds = [untrained("gan", 0), untrained("gan", 3)]
    scored_anew = evidence("gan", reference).training_seeds(seeds, "tiny", [])
    first = [r for r in scored_anew if r.subject == "gan" and dict(r.knobs)["train_seed"] == 0]
    point_case = first[0].case.removesuffix(" train_seed=0")
    swept = [
        dataclasses.replace(r, case=point_case, knobs=tuple(k for k in r.knobs if k[0] != "train_seed"))
        for r in first
    ]
    poisoned = [dataclasses.replace(r, value=-1.0) for r in swept]  # so that reuse shows, not resampling
    reused = evidence("gan", reference).training_seeds(seeds, "tiny", poisoned)
    reused_first = [r for r in reused if r.subject == "gan" and dict(r.knobs)["train_seed"] == 0]
    assert [(r.metric, r.case, r.knobs) for r in reused_first] == [(r.metric, r.case, r.knobs) for r in first]
    assert {r.value for r in reused_first} == {-1.0}
    others = [r for r in reused if r.subject == "gan" and dict(r.knobs)["train_seed"] == 3]
    assert others and all(r.value != -1.0 for r in others)


def test_the_best_point_is_sampled_again_on_fresh_seeds(reference):
    model = untrained("vae", 0).model
    candidates = [
        Measurement("quality", "vae", "eager", "float32", case, "fid_equal_n", value, "", knobs=(("n", 4),))
        for case, value in (("worse", 30.0), ("best", 10.0))
    ]
    # a training seed's figure and a bf16 point are not candidates, however good
    candidates += [
        Measurement(
            "quality",
            "vae",
            "eager",
            "float32",
            "s",
            "fid_equal_n",
            1.0,
            "",
            knobs=(("n", 4), ("train_seed", 1)),
        ),
        Measurement("quality", "vae", "eager", "bfloat16", "best", "fid_equal_n", 1.0, "", knobs=(("n", 4),)),
    ]
    best = evidence("vae", reference).best_point(candidates)
    assert best.case == "best" and best.dtype == "float32"
    rows = to_frame(evidence("vae", reference).best_point_on_fresh_seeds(model, best))
    mine = rows[rows["subject"] == "vae"]
    assert set(mine["case"]) == {f"best {FRESH_SEEDS}"}
    assert set(mine["seeds"]) == {f"{FRESH_SEED},{FRESH_SEED + 1}"}
    assert set(mine["knob_seed_set"]) == {"fresh"}
    assert evidence("vae", reference).best_point([]) is None
    assert evidence("vae", reference).best_point_on_fresh_seeds(model, None) == []


@pytest.mark.parametrize("name", ["gan", "vae"])
def test_latent_paths_of_every_family_with_a_latent_space(reference, name):
    rows = to_frame(evidence(name, reference).latent_paths(untrained(name, 0).model))
    assert set(rows["metric"]) == {"latent_path_ratio", "latent_jump_ratio"}
    path = rows[rows["metric"] == "latent_path_ratio"].iloc[0]
    assert path["value"] >= 1.0 and path["ci_low"] <= path["value"] <= path["ci_high"]
    assert path["samples"] == SETTINGS["tiny"].latent_pairs


def test_a_family_without_a_latent_space_has_no_latent_rows(reference):
    assert protocol.get("diffusion").latent_space is None
    assert evidence("diffusion", reference).latent_paths(torch.nn.Linear(1, 1)) == []

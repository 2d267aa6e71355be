"""``evaluate_images`` end to end on the tiny feature net: the held-out reference, the floor and
noise anchors at the generated set's n, intervals, memorisation, the floor flag, rows, bad input."""

from __future__ import annotations

import math

import pytest
import torch

from genzoo.measurement import KEY_COLUMNS, to_frame
from genzoo.quality.anchors import NOISE_ANCHOR, REAL_ANCHOR
from genzoo.quality.image_quality import BETTER, evaluate_images
from genzoo.stats.verdicts import compare_intervals

METRICS = set(BETTER)


def fresh_like_digits(mnist, count: int, seed: int | None = None) -> torch.Tensor:
    """Training digits moved by one pixel: new images of real digits, close to but not copies of
    the training set (a stand-in for a generator that learnt the distribution)."""
    generator = torch.Generator().manual_seed(count if seed is None else seed)
    index = torch.randperm(len(mnist.train), generator=generator)[:count]
    return mnist.train.images[index].roll(1, dims=-1)


def test_noise_lies_further_from_the_reference_than_the_real_floor_on_every_metric(tiny_reference):
    count = 500  # the cpu preset's n
    floor, noise = (scored.intervals() for scored in tiny_reference.anchors(count))
    for name, better in BETTER.items():
        if better == "lower":
            assert noise[name].low > floor[name].high, name
        elif better == "higher":
            assert noise[name].high < floor[name].low, name
    # metrics with a target: noise further from the reference digits' own value than the floor is
    for name, target in (
        ("sharpness_ratio", 1.0),
        ("hf_fraction", tiny_reference.reference.hf.mean().item()),
    ):
        assert abs(noise[name].estimate - target) > 2 * abs(floor[name].estimate - target), name
    assert noise["memorisation_ratio"].low > 1.5  # uniform noise is far from every digit
    assert floor["memorisation_ratio"].estimate < 1e-6  # the floor's digits are training digits


def test_the_floor_is_class_balanced_like_the_generators_labels(tiny_reference):
    count = int(torch.randint(40, 120, ()).item())
    floor, _ = tiny_reference.anchors(count)
    assert floor.metrics["class_tv_from_uniform"] < 0.1 + 10 / count  # the tiny net's ~85% accuracy
    assert all(r.n == count for r in floor.replicates.values())


def test_dropped_classes_are_worse_beyond_the_intervals(tiny_reference, mnist):
    dropped = torch.randperm(10)[:5]  # a planted difference the tiny net resolves at n = 300
    kept = fresh_like_digits(mnist, 1000)
    labels = tiny_reference.trained.net.head(tiny_reference.trained.net.hidden(kept)).argmax(1)
    report = evaluate_images(kept[~torch.isin(labels, dropped)][:300], tiny_reference)
    floor = report.real_anchor.intervals()
    got = report.generated.intervals()
    assert got["recall"].high < floor["recall"].low
    assert got["coverage"].high < floor["coverage"].low
    assert got["class_entropy_ratio"].high < floor["class_entropy_ratio"].low
    assert got["fid"].low > floor["fid"].high


def test_blurred_digits_are_less_sharp_beyond_their_interval(tiny_reference, mnist):
    images = fresh_like_digits(mnist, 100)
    kernel = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0])
    kernel = (kernel[:, None] * kernel[None, :] / 256).reshape(1, 1, 5, 5)
    blurred = torch.nn.functional.conv2d(images, kernel, padding=2)
    sharp, soft = (evaluate_images(x, tiny_reference).generated.intervals() for x in (images, blurred))
    assert soft["sharpness_ratio"].high < 0.6 < sharp["sharpness_ratio"].low


def test_a_planted_blur_holds_and_two_draws_of_one_generator_are_not_resolved(tiny_reference, mnist):
    first, second = fresh_like_digits(mnist, 300, seed=1), fresh_like_digits(mnist, 300, seed=2)
    kernel = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0])
    blurred = torch.nn.functional.conv2d(
        second, (kernel[:, None] * kernel / 256).reshape(1, 1, 5, 5), padding=2
    )
    a, b, soft = (evaluate_images(x, tiny_reference).generated.intervals() for x in (first, second, blurred))
    assert compare_intervals(a["fid"], b["fid"]).status == "not resolved at this N"
    assert compare_intervals(a["sharpness_ratio"], b["sharpness_ratio"]).status == "not resolved at this N"
    assert compare_intervals(soft["sharpness_ratio"], a["sharpness_ratio"], better="lower").status == "holds"
    assert compare_intervals(soft["fid"], a["fid"], better="lower").status == "does not hold"


def test_copies_of_training_digits_are_caught_and_fresh_digits_are_not(tiny_reference, mnist):
    copies = mnist.train.images[torch.randperm(len(mnist.train))[:200]]
    noisy_copies = (copies + 0.02 * torch.randn_like(copies)).clamp(0, 1)
    copied = evaluate_images(noisy_copies, tiny_reference).generated.intervals()["memorisation_ratio"]
    assert copied.high < 0.5
    # the held-out digits themselves are exactly as far from the training set as held-out digits are
    same = tiny_reference.score(mnist.test.images).intervals()["memorisation_ratio"]
    assert same.estimate == 1.0 and same.low < 1.0 < same.high


def test_a_set_better_than_real_data_is_flagged(tiny_reference, mnist):
    report = evaluate_images(mnist.test.images, tiny_reference, subject="leak")  # the reference itself
    # with the tiny net the floor's FID interval reaches 0, so the leak shows on the k-NN metrics
    assert "recall" in report.beats_real_floor()
    leak_rows = [row for row in report.rows if row.subject == "leak"]
    assert all("BEATS THE REAL FLOOR" in row.note for row in leak_rows)
    honest = evaluate_images(fresh_like_digits(mnist, 200), tiny_reference, subject="honest")
    assert honest.beats_real_floor() == ()


def test_the_feature_net_runs_once_per_image_set(tiny_reference, mnist, monkeypatch):
    net, passes = tiny_reference.trained.net, []
    hidden = net.hidden
    monkeypatch.setattr(net, "hidden", lambda images: passes.append(len(images)) or hidden(images))
    count = int(torch.randint(40, 90, ()).item())
    metrics = tiny_reference.score(fresh_like_digits(mnist, count)).metrics
    assert passes == [count]  # every metric and every bootstrap replicate reads that one pass
    assert metrics["fid"] >= 0 and 0 < metrics["classifier_score"] <= 10


def test_rows_cover_the_generated_set_and_both_anchors_with_intervals(tiny_reference, mnist):
    report = evaluate_images(
        fresh_like_digits(mnist, 120),
        tiny_reference,
        sampling_seeds=(1000, 1001, 1002),
        subject="vae",
        backend="triton",
        dtype="bfloat16",
        case="z=16",
    )
    frame = to_frame(report.rows)
    assert len(frame) == 3 * len(METRICS)
    assert not frame.duplicated(list(KEY_COLUMNS)).any()
    assert set(frame["kind"]) == {"quality"}
    assert set(frame["subject"]) == {"vae", REAL_ANCHOR, NOISE_ANCHOR}
    generated = frame[frame["subject"] == "vae"]
    assert set(generated["case"]) == {"z=16"} and set(generated["samples"]) == {120}
    assert set(generated["seeds"]) == {"1000-1002"}
    assert dict(zip(generated["metric"], generated["value"])) == report.metrics
    assert set(frame[frame["subject"] == REAL_ANCHOR]["case"]) == {"n=120"}
    assert all(math.isfinite(v) for v in frame["value"])
    assert (frame["ci_low"] <= frame["ci_high"]).all()
    fid = generated[generated["metric"] == "fid"].iloc[0]
    assert fid["ci_low"] < fid["value"] < fid["ci_high"]
    assert "held-out" in fid["note"] and "n=120" in fid["note"]


def test_a_set_larger_than_the_reference_is_scored_at_the_reference_size(tiny_reference, mnist):
    report = evaluate_images(fresh_like_digits(mnist, 520), tiny_reference)
    assert report.samples == tiny_reference.reference_size == 500


@pytest.mark.parametrize(
    "images, needle",
    [
        (torch.rand(10, 1, 28, 28).index_fill(0, torch.tensor([3]), -1.0), r"generated has values in \[-1, "),
        (torch.rand(3, 1, 28, 28), "generated has 3 samples; this metric needs at least 4"),
        (torch.rand(10, 3, 28, 28), r"generated must be \[N, 1, 28, 28\]"),
        (torch.full((10, 1, 28, 28), math.nan), "generated has 7840 non-finite"),
        (torch.randint(0, 2, (10, 1, 28, 28)), "generated must be floating point"),
        (torch.empty(0, 1, 28, 28), "generated is empty"),
    ],
)
def test_bad_images_are_refused_by_name(tiny_reference, images, needle):
    with pytest.raises(ValueError, match=needle):
        evaluate_images(images, tiny_reference)

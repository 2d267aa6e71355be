"""``evaluate_images`` end to end on the tiny feature net: anchors, directions, rows, bad input."""

from __future__ import annotations

import math

import pytest
import torch

from genzoo.measurement import KEY_COLUMNS, to_frame
from genzoo.quality.anchors import NOISE_ANCHOR, REAL_ANCHOR
from genzoo.quality.image_quality import evaluate_images

METRICS = {
    "fid",
    "kid_mean",
    "kid_std",
    "precision",
    "recall",
    "density",
    "coverage",
    "classifier_score",
    "class_entropy_ratio",
    "class_tv_from_uniform",
    "missing_classes",
    "mean_confidence",
    "hf_fraction",
    "sharpness_ratio",
}


def test_held_out_digits_score_as_the_real_anchor_and_noise_as_the_noise_anchor(tiny_reference, mnist):
    count = int(torch.randint(150, 250, ()).item())
    real = evaluate_images(mnist.test.images[:count], tiny_reference, subject="copy")
    assert set(real.metrics) == METRICS
    assert real.metrics == real.real_anchor  # the same images, scored the same way
    assert real.position("fid") == 0.0
    noise = evaluate_images(torch.rand(count, 1, 28, 28), tiny_reference)
    assert noise.position("fid") == pytest.approx(1.0, abs=0.05)  # fresh noise vs the seeded anchor
    # the scale is wide: noise is far from digits on every distribution metric
    anchors = real.real_anchor, real.noise_anchor
    assert anchors[1]["fid"] > 5 * anchors[0]["fid"]
    assert anchors[1]["kid_mean"] > 5 * max(anchors[0]["kid_mean"], 1e-4)
    # not precision: a real outlier's wide ball can take in the whole noise cluster (precision_recall.py)
    assert anchors[0]["density"] > 2 * anchors[1]["density"]
    assert anchors[0]["coverage"] > 0.5 > anchors[1]["coverage"]
    assert anchors[0]["recall"] > 0.5 > anchors[1]["recall"]
    assert anchors[1]["sharpness_ratio"] > 2 * anchors[0]["sharpness_ratio"]


def test_one_digit_class_loses_recall_and_balance(tiny_reference, mnist):
    digit = int(torch.randint(0, 10, ()).item())
    one_class = mnist.train.images[mnist.train.labels == digit][:200]
    report = evaluate_images(one_class, tiny_reference)
    # ~0.1 of the real anchor's with the cpu net; up to ~0.55 with the tiny net's blurrier features
    assert report.metrics["recall"] < 0.65 * report.real_anchor["recall"]
    assert report.metrics["coverage"] < 0.65 * report.real_anchor["coverage"]
    assert report.metrics["class_entropy_ratio"] < report.real_anchor["class_entropy_ratio"]
    assert report.metrics["fid"] > 2 * report.real_anchor["fid"]


def test_blurred_digits_are_less_sharp(tiny_reference, mnist):
    images = mnist.test.images[torch.randperm(len(mnist.test))[:100]]
    kernel = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0])
    kernel = (kernel[:, None] * kernel[None, :] / 256).reshape(1, 1, 5, 5)
    blurred = torch.nn.functional.conv2d(images, kernel, padding=2)
    assert evaluate_images(blurred, tiny_reference).metrics["sharpness_ratio"] < 0.6


def test_the_feature_net_runs_once_per_image_set(tiny_reference, mnist, monkeypatch):
    net, passes = tiny_reference.trained.net, []
    hidden = net.hidden
    monkeypatch.setattr(net, "hidden", lambda images: passes.append(len(images)) or hidden(images))
    count = int(torch.randint(40, 90, ()).item())
    metrics = tiny_reference.metrics(mnist.test.images[:count])
    assert passes == [count]  # FID, KID, precision / recall and the classifier scores share it
    assert metrics["fid"] >= 0 and 0 < metrics["classifier_score"] <= 10


def test_rows_cover_the_generated_set_and_both_anchors(tiny_reference, mnist):
    report = evaluate_images(
        mnist.test.images[:120].flip(-1),
        tiny_reference,
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
    assert dict(zip(generated["metric"], generated["value"])) == report.metrics
    assert set(frame[frame["subject"] == REAL_ANCHOR]["case"]) == {"n=120"}
    assert all(math.isfinite(v) for v in frame["value"])


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

"""Output differences and metric deltas between backends, and the rows they become."""

from __future__ import annotations

import math

import pytest
import torch

from genzoo.measurement import KEY_COLUMNS, to_frame
from genzoo.quality.inputs import QualityInputError
from genzoo.quality.kernel_swap import kernel_swap_rows, metric_delta, output_difference


def test_known_difference():
    eager = torch.tensor([[3.0, 4.0]])  # norm 5
    result = output_difference(eager, torch.tensor([[3.0, 5.0]]))
    assert (result.max_abs, result.relative_l2, result.numel) == (1.0, 0.2, 2)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
def test_random_outputs_in_any_dtype_are_compared_in_float64(dtype):
    eager = torch.randn(4, 3, 17)
    backend = eager.to(dtype)  # what a low-precision backend returns
    result = output_difference(eager, backend)
    difference = backend.double() - eager.double()
    assert result.max_abs == pytest.approx(difference.abs().max().item(), rel=1e-12)
    assert result.relative_l2 == pytest.approx((difference.norm() / eager.double().norm()).item(), rel=1e-12)
    assert (result.relative_l2 == 0.0) == (dtype == torch.float32)


def test_non_finite_backend_output_is_infinitely_wrong_and_zero_reference_is_handled():
    eager = torch.randn(10)
    broken = eager.clone()
    broken[3] = math.nan
    assert output_difference(eager, broken).relative_l2 == math.inf
    assert output_difference(torch.zeros(4), torch.zeros(4)).relative_l2 == 0.0
    assert output_difference(torch.zeros(4), torch.ones(4)).relative_l2 == math.inf


@pytest.mark.parametrize(
    "eager, backend, needle",
    [
        (torch.randn(3, 4), torch.randn(4, 3), "backend has shape"),
        (torch.empty(0), torch.empty(0), "eager is empty"),
        (torch.tensor([math.inf]), torch.tensor([1.0]), "eager has non-finite"),
        ([1.0], torch.tensor([1.0]), "eager must be a torch.Tensor"),
    ],
)
def test_bad_outputs_are_refused_by_name(eager, backend, needle):
    with pytest.raises(QualityInputError, match=needle):
        output_difference(eager, backend)


def test_metric_delta():
    eager, backend = (20 + 10 * torch.rand(2)).tolist()
    delta = metric_delta(eager, backend)
    assert delta.delta == pytest.approx(backend - eager)
    assert delta.relative == pytest.approx((backend - eager) / eager)
    assert metric_delta(0.0, 0.0).relative == 0.0
    assert metric_delta(0.0, 1.0).relative == math.inf
    with pytest.raises(QualityInputError, match="eager metric must be finite"):
        metric_delta(math.nan, 1.0)


def test_rows_are_quality_measurements_keyed_by_backend():
    outputs = output_difference(torch.tensor([3.0, 4.0]), torch.tensor([3.0, 4.5]))
    rows = kernel_swap_rows(
        subject="diffusion",
        backend="triton",
        dtype="bfloat16",
        case="ddim steps=10",
        outputs=outputs,
        metric_name="fid",
        metric=metric_delta(12.0, 12.6),
    )
    frame = to_frame(rows)
    assert list(frame["metric"]) == ["output_max_abs_diff", "output_rel_l2_diff", "fid_delta"]
    assert frame["value"].tolist() == pytest.approx([0.5, 0.1, 0.6])
    assert frame.iloc[2]["quality_change"] == pytest.approx(0.05)
    assert list(frame["better"])[:2] == ["lower", "lower"]
    assert set(frame["kind"]) == {"quality"} and set(frame["backend"]) == {"triton"}
    assert not frame.duplicated(list(KEY_COLUMNS)).any()
    with pytest.raises(QualityInputError, match="metric_name must name"):
        kernel_swap_rows(
            subject="gan",
            backend="compile",
            dtype="float32",
            case="-",
            outputs=outputs,
            metric=metric_delta(1.0, 2.0),
        )

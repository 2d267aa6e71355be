"""group_norm_silu: property sweeps over NCHW and channels-last shapes against
F.silu(F.group_norm(...)) in float64, plus the errors that name a bad argument."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from genzoo import kernels
from genzoo.kernels.validation import KernelInputError
from genzoo.tolerance import relative_error

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


def _reference(x, groups, weight, bias, eps=1e-5):
    return F.silu(F.group_norm(x.double(), groups, weight.double(), bias.double(), eps))


def channels_last(tensor: torch.Tensor) -> torch.Tensor:
    """The same values with channels innermost in memory, for any number of spatial dims."""
    return tensor.movedim(1, -1).contiguous().movedim(-1, 1)


LAYOUTS = {"contiguous": torch.Tensor.contiguous, "channels_last": channels_last}


@settings(max_examples=25, deadline=None)
@given(
    batch=st.integers(1, 3),
    groups=st.integers(1, 4),
    channels_per_group=st.integers(1, 5),
    spatial=st.lists(st.integers(1, 9), min_size=0, max_size=3),
    shift=st.floats(-30, 30),
    x_layout=st.sampled_from(sorted(LAYOUTS)),
    out_layout=st.sampled_from(sorted(LAYOUTS)),
    seed=st.integers(0, 2**31 - 1),
)
def test_matches_float64_group_norm_on_any_shape_and_layout(
    batch, groups, channels_per_group, spatial, shift, x_layout, out_layout, seed
):
    g = torch.Generator().manual_seed(seed)
    channels = groups * channels_per_group
    if channels_per_group * math.prod(spatial) < 2:
        spatial = [*spatial, 2]  # F.group_norm itself refuses groups of one value
    x = torch.randn(batch, channels, *spatial, generator=g) * 3 + shift
    weight, bias = torch.randn(channels, generator=g), torch.randn(channels, generator=g)
    if x.ndim == 2:  # [N, C] has no spatial dim to put the channels inside of
        x_layout = out_layout = "contiguous"
    out = LAYOUTS[out_layout](torch.full_like(x, float("nan"))).to(DEVICE)
    with kernels.use("triton"):
        result = kernels.ops.group_norm_silu(
            LAYOUTS[x_layout](x).to(DEVICE), groups, weight.to(DEVICE), bias.to(DEVICE), out=out
        )
    assert result is out and result.stride() == out.stride()
    assert relative_error(result, _reference(x, groups, weight, bias)) <= 1e-5


@pytest.mark.parametrize("shape", [(2, 6, 41, 47), (1, 4, 3, 5, 7), (2, 8, 9)], ids=str)
def test_default_out_keeps_the_channels_last_layout(shape):
    """Past one block too (5781-element groups): the multi-block path walks channels-last memory."""
    g = torch.Generator().manual_seed(torch.randint(0, 2**31 - 1, ()).item())
    x = channels_last(torch.randn(*shape, generator=g) + 30.0).to(DEVICE)
    weight, bias = torch.rand(shape[1], generator=g) + 0.5, torch.randn(shape[1], generator=g)
    with kernels.use("triton"):
        result = kernels.ops.group_norm_silu(x, 2, weight.to(DEVICE), bias.to(DEVICE))
    assert result.stride() == x.stride()
    assert relative_error(result, _reference(x.cpu(), 2, weight, bias)) <= 1e-5


def test_large_group_uses_several_blocks_and_stays_exact():
    """A group of 3 x 41 x 47 = 5781 elements (past one block) with a large mean: the merged
    statistics must not lose the variance to cancellation."""
    g = torch.Generator().manual_seed(torch.randint(0, 2**31 - 1, ()).item())
    x = torch.randn(2, 6, 41, 47, generator=g) + 300.0
    weight, bias = torch.rand(6, generator=g) + 0.5, torch.randn(6, generator=g)
    with kernels.use("triton"):
        result = kernels.ops.group_norm_silu(x.to(DEVICE), 2, weight.to(DEVICE), bias.to(DEVICE))
    assert relative_error(result, _reference(x, 2, weight, bias)) <= 1e-5


def test_without_affine_parameters():
    x = torch.randn(2, 8, 5, 3, device=DEVICE)
    with kernels.use("triton"):
        result = kernels.ops.group_norm_silu(x, 4)
    expected = F.silu(F.group_norm(x.double().cpu(), 4, eps=1e-5))
    assert relative_error(result, expected) <= 1e-5


def test_empty_batch_gives_empty_output():
    with kernels.use("triton"):
        assert kernels.ops.group_norm_silu(torch.randn(0, 4, 3, 3, device=DEVICE), 2).shape == (0, 4, 3, 3)


@pytest.mark.parametrize("backend", ["eager", "triton"])
def test_groups_that_do_not_divide_channels_are_refused(backend):
    with (
        kernels.use(backend),
        pytest.raises(KernelInputError, match="num_groups=4 does not divide the 6 channels"),
    ):
        kernels.ops.group_norm_silu(torch.randn(1, 6, 3, 3, device=DEVICE), 4)


BAD_CALLS = [
    (dict(x=torch.randn(6)), "x must have at least 2 dimensions"),
    (dict(x=torch.randint(0, 9, (2, 6, 3, 3))), "x has dtype"),
    (
        dict(x=torch.randn(2, 6, 3, 3).transpose(2, 3)),
        r"x must be contiguous or channels-last \(strides \(54, 9, 1, 3\)",
    ),
    (dict(out=torch.empty(2, 6, 3, 3).transpose(2, 3)), "out must be contiguous or channels-last"),
    (dict(out=torch.empty(2, 6, 3, 3, dtype=torch.float64)), "out has dtype"),
    (dict(num_groups=0), "num_groups must be a positive int"),
    (dict(num_groups=2.0), "num_groups must be a positive int"),
    (dict(weight=torch.randn(5)), "weight has 5 entries but x has 6 channels"),
    (dict(bias=torch.randn(6, dtype=torch.float64)), "bias has dtype"),
    (dict(eps=0.0), "eps must be positive"),
    (dict(x=torch.randn(2, 6), num_groups=6, weight=None, bias=None), "one value per group"),
    (dict(out=torch.empty(2, 6, 3)), "out has shape"),
]


@pytest.mark.parametrize("changes, message", BAD_CALLS, ids=[m for _, m in BAD_CALLS])
def test_bad_arguments_are_named(changes, message):
    arguments = dict(
        x=torch.randn(2, 6, 3, 3), num_groups=3, weight=torch.randn(6), bias=torch.randn(6), eps=1e-5
    )
    arguments.update(changes)
    arguments = {k: v.to(DEVICE) if isinstance(v, torch.Tensor) else v for k, v in arguments.items()}
    with kernels.use("triton"), pytest.raises(KernelInputError, match=message):
        kernels.ops.group_norm_silu(**arguments)


def test_benchmark_inputs_never_hand_a_tiny_group_of_nearly_equal_values():
    """Two nearly equal values in a group make every fp32 code, eager too, miss 1e-5: the input
    maker redraws them, so a failure always says something about the kernel."""
    from genzoo.kernels import registry
    from genzoo.kernels.group_norm_silu import MAX_CONDITION

    op = registry.get("group_norm_silu")
    case = next(c for c in op.test_cases if c.params["shape"] == (1, 2))
    for seed in range(300):
        x = op.make_call(case, torch.float32, "cpu", torch.Generator().manual_seed(seed)).args[0].double()
        assert x.abs().max() <= MAX_CONDITION * x.std(correction=0), seed

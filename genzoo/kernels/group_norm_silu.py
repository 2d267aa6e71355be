"""``group_norm_silu``: SiLU(GroupNorm(x)) in one kernel, as every UNet ResNet block applies it.

Eager PyTorch runs GroupNorm (read x, write y) then SiLU (read y, write out): 4 passes over the
activation. Fused, one program per (sample, group) reads its group, computes mean and variance,
and writes SiLU(w * (x - mean) / sqrt(var + eps) + b) directly:

    bytes  = elsize * numel * 2 (+ weight and bias)      the minimum: read x once, write once
    FLOPs ~= 12 * numel                                   stats 4, affine 4, SiLU 4

In NCHW memory a group of channels is one contiguous run of ``C/G * H * W`` elements. When it
fits in one block it is read once; larger groups are read twice (statistics, then output), with
the statistics merged across blocks by Chan et al.'s parallel variance formula, so large means do
not cancel the way a running sum of squares would.

Channels-last memory (``torch.channels_last``, the layout diffusers recommends for its UNets on a
GPU: element (c, s) of a sample at ``s * C + c``) holds a group as ``H * W`` runs of ``C/G``
channels, ``C`` apart. x and out may each be either layout; a program walks its group in x's
memory order, so x is read in runs and out, when laid out the other way, written in strides.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from genzoo.kernels import bf16_rounding, registry, triton_mode
from genzoo.kernels.validation import (
    FLOAT_DTYPES,
    KernelInputError,
    check_finite_scalar,
    check_like,
    check_no_grad,
    check_tensor,
    is_channels_last,
)

if triton_mode.triton_available():
    import triton
    import triton.language as tl

    from genzoo.kernels.bf16_rounding import round_to_bf16

    @triton.jit
    def group_offsets(
        index,
        group,
        channels_per_group,
        num_channels,
        spatial_size,
        X_CHANNELS_LAST: tl.constexpr,
        CHANNELS_LAST: tl.constexpr,
    ):
        """Offsets from a sample's start of its group's elements, numbered by ``index`` in x's
        memory order, in a tensor laid out channels-last or not (NCHW)."""
        channel = group_channels(index, group, channels_per_group, spatial_size, X_CHANNELS_LAST)
        if X_CHANNELS_LAST:
            position = index // channels_per_group
        else:
            position = index % spatial_size
        if CHANNELS_LAST:
            offsets = position * num_channels + channel
        elif X_CHANNELS_LAST:
            offsets = channel * spatial_size + position
        else:  # the group is one contiguous run
            offsets = group * channels_per_group * spatial_size + index
        return offsets

    @triton.jit
    def group_channels(index, group, channels_per_group, spatial_size, X_CHANNELS_LAST: tl.constexpr):
        """The channel of each of the group's elements, numbered by ``index`` in x's memory order:
        position * channels_per_group + channel in the group (channels-last), else channel in the
        group * spatial_size + position."""
        if X_CHANNELS_LAST:
            channel = group * channels_per_group + index % channels_per_group
        else:
            channel = group * channels_per_group + index // spatial_size
        return channel

    @triton.jit
    def group_norm_silu_kernel(
        x_ptr,
        weight_ptr,
        bias_ptr,
        out_ptr,
        group_size,
        channels_per_group,
        num_channels,
        spatial_size,
        num_groups,
        eps,
        HAS_WEIGHT: tl.constexpr,
        HAS_BIAS: tl.constexpr,
        SINGLE_BLOCK: tl.constexpr,
        ROUND_BF16: tl.constexpr,
        X_CHANNELS_LAST: tl.constexpr,
        OUT_CHANNELS_LAST: tl.constexpr,
        BLOCK: tl.constexpr,
    ):
        # one program per (sample n, group g)
        row = tl.program_id(0)
        group = row % num_groups
        sample_start = (row // num_groups).to(tl.int64) * num_channels * spatial_size
        x_start = x_ptr + sample_start
        offsets = tl.arange(0, BLOCK)
        if SINGLE_BLOCK:  # the whole group is in registers: exact two-pass statistics
            mask = offsets < group_size
            x_offsets = group_offsets(
                offsets,
                group,
                channels_per_group,
                num_channels,
                spatial_size,
                X_CHANNELS_LAST,
                X_CHANNELS_LAST,
            )
            x = tl.load(x_start + x_offsets, mask=mask).to(tl.float32)
            mean = tl.sum(x, axis=0) / group_size
            centered = tl.where(mask, x - mean, 0.0)
            var = tl.sum(centered * centered, axis=0) / group_size
        else:  # merge per-block (count, mean, M2) with Chan et al.'s formula
            mean = 0.0
            m2 = 0.0
            for start in range(0, group_size, BLOCK):
                index = start + offsets
                mask = index < group_size
                x_offsets = group_offsets(
                    index,
                    group,
                    channels_per_group,
                    num_channels,
                    spatial_size,
                    X_CHANNELS_LAST,
                    X_CHANNELS_LAST,
                )
                x = tl.load(x_start + x_offsets, mask=mask).to(tl.float32)
                count_block = tl.minimum(group_size - start, BLOCK) * 1.0  # as fp32
                mean_block = tl.sum(x, axis=0) / count_block
                centered = tl.where(mask, x - mean_block, 0.0)
                m2_block = tl.sum(centered * centered, axis=0)
                count_before = start * 1.0
                count_after = count_before + count_block
                delta = mean_block - mean
                mean += delta * count_block / count_after
                m2 += m2_block + delta * delta * count_before * count_block / count_after
            var = m2 / group_size
        rstd = 1.0 / tl.sqrt(var + eps)
        for start in range(0, group_size, BLOCK):
            index = start + offsets
            mask = index < group_size
            if SINGLE_BLOCK:
                y = centered * rstd
            else:
                x_offsets = group_offsets(
                    index,
                    group,
                    channels_per_group,
                    num_channels,
                    spatial_size,
                    X_CHANNELS_LAST,
                    X_CHANNELS_LAST,
                )
                y = (tl.load(x_start + x_offsets, mask=mask).to(tl.float32) - mean) * rstd
            if HAS_WEIGHT or HAS_BIAS:
                channel = group_channels(index, group, channels_per_group, spatial_size, X_CHANNELS_LAST)
            if HAS_WEIGHT:
                y *= tl.load(weight_ptr + channel, mask=mask).to(tl.float32)
            if HAS_BIAS:
                y += tl.load(bias_ptr + channel, mask=mask).to(tl.float32)
            y = y * tl.sigmoid(y)  # SiLU
            if ROUND_BF16:
                y = round_to_bf16(y)
            out_offsets = group_offsets(
                index,
                group,
                channels_per_group,
                num_channels,
                spatial_size,
                X_CHANNELS_LAST,
                OUT_CHANNELS_LAST,
            )
            tl.store(out_ptr + sample_start + out_offsets, y.to(out_ptr.dtype.element_ty), mask=mask)


MAX_SINGLE_BLOCK = 4096  # elements per group held in registers (16 KiB fp32 over 8 warps)
LOOP_BLOCK = 2048


def _check_inputs(x, num_groups, weight, bias, eps, device=None, dtypes=FLOAT_DTYPES):
    check_tensor("x", x, dtypes=dtypes, device=device, min_ndim=2, contiguous=False)  # layout: per backend
    if not isinstance(num_groups, int) or isinstance(num_groups, bool) or num_groups <= 0:
        raise KernelInputError(f"num_groups must be a positive int, got {num_groups!r}")
    channels = x.shape[1]
    if channels % num_groups:
        raise KernelInputError(
            f"num_groups={num_groups} does not divide the {channels} channels of x (shape {tuple(x.shape)})"
        )
    if x.numel() and x.numel() // x.shape[0] // num_groups < 2:
        # as F.group_norm: a group of one value has no variance to normalise by
        raise KernelInputError(f"x of shape {tuple(x.shape)} has one value per group; need at least 2")
    for name, tensor in (("weight", weight), ("bias", bias)):
        if tensor is None:
            continue
        check_tensor(name, tensor, dtypes=(x.dtype,), device=device, ndim=1)
        if tensor.shape[0] != channels:
            raise KernelInputError(f"{name} has {tensor.shape[0]} entries but x has {channels} channels")
    eps = check_finite_scalar("eps", eps)
    if eps <= 0:
        raise KernelInputError(f"eps must be positive, got {eps}")
    return eps


def group_norm_silu_triton(x, num_groups, weight=None, bias=None, eps=1e-5, *, out=None):
    """SiLU(GroupNorm(x)) for x of shape [N, C, *spatial], contiguous or channels-last; ``out``
    (by default laid out as x) may be either too."""
    eps = _check_inputs(x, num_groups, weight, bias, eps, device=triton_mode.triton_device())
    check_no_grad("group_norm_silu", x=x, weight=weight, bias=bias)
    x_channels_last = is_channels_last("x", x)
    if out is None:
        out = torch.empty_like(x)  # keeps x's layout
    else:
        check_tensor("out", out, dtypes=(x.dtype,), contiguous=False)
        check_like("out", out, "x", x)
    out_channels_last = is_channels_last("out", out)
    if x.numel() == 0:
        return out
    batch, channels = x.shape[:2]
    spatial_size = x[0, 0].numel()
    group_size = channels // num_groups * spatial_size
    single_block = group_size <= MAX_SINGLE_BLOCK
    block = triton.next_power_of_2(group_size) if single_block else LOOP_BLOCK
    group_norm_silu_kernel[(batch * num_groups,)](
        x,
        x if weight is None else weight,
        x if bias is None else bias,
        out,
        group_size,
        channels // num_groups,
        channels,
        spatial_size,
        num_groups,
        eps,
        HAS_WEIGHT=weight is not None,
        HAS_BIAS=bias is not None,
        SINGLE_BLOCK=single_block,
        ROUND_BF16=bf16_rounding.needs_rounding(out.dtype),
        X_CHANNELS_LAST=x_channels_last,
        OUT_CHANNELS_LAST=out_channels_last,
        BLOCK=block,
        num_warps=8 if block >= 2048 else 4,
    )
    return out


def group_norm_silu_eager(x, num_groups, weight=None, bias=None, eps=1e-5, *, out=None):
    _check_inputs(x, num_groups, weight, bias, eps, dtypes=(*FLOAT_DTYPES, torch.float64))
    result = F.silu(F.group_norm(x, num_groups, weight, bias, eps))
    return result if out is None else out.copy_(result)


def group_norm_silu_cost(call: registry.Call) -> registry.Cost:
    x, weight, bias = call.args[0], call.args[2], call.args[3]
    params = sum(t.numel() * t.element_size() for t in (weight, bias) if t is not None)
    return registry.Cost(bytes_moved=2 * x.numel() * x.element_size() + params, flops=12 * x.numel())


def group_norm_silu_call(case: registry.Case, dtype: torch.dtype, device: str, generator: torch.Generator):
    shape, groups = case.params["shape"], case.params["num_groups"]

    def randn(*size, scale=1.0, shift=0.0):
        return torch.randn(size, generator=generator) * scale + shift

    # an offset mean tests the variance computation; random affine tests the channel indexing
    x = randn(*shape, scale=2.0, shift=case.params.get("shift", 0.5))
    while not _well_conditioned(x, groups):  # a tiny group of nearly equal values: redraw
        x = randn(*shape, scale=2.0, shift=case.params.get("shift", 0.5))
    affine = randn(shape[1], scale=0.5, shift=1.0), randn(shape[1], scale=0.5)
    if case.params.get("channels_last"):
        x = x.movedim(1, -1).contiguous().movedim(-1, 1)
    return registry.Call((x.to(device, dtype), groups, *(t.to(device, dtype) for t in affine)), {})


MAX_CONDITION = 32  # max|x| / std of a group: fp32 rounding stays under its 1e-5 bound


def _well_conditioned(x: torch.Tensor, groups: int) -> bool:
    """Normalising divides by the group's std: where it is tiny next to the values (two nearly
    equal values in a group), any fp32 code, eager too, loses digits to the input, not to itself."""
    by_group = x.double().reshape(x.shape[0], groups, -1)
    return bool((by_group.abs().amax(-1) <= MAX_CONDITION * by_group.std(-1, correction=0)).all())


def _case(shape, num_groups, quick=False, **extra):
    label = (
        "x".join(map(str, shape))
        + f" G={num_groups}"
        + (" channels-last" if extra.get("channels_last") else "")
    )
    return registry.Case(label, dict(shape=shape, num_groups=num_groups, **extra), quick=quick)


registry.register(
    registry.Op(
        name="group_norm_silu",
        eager=group_norm_silu_eager,
        reference=registry.float64_reference(group_norm_silu_eager),
        cost=group_norm_silu_cost,
        make_call=group_norm_silu_call,
        metric="GB/s",
        test_cases=[
            _case((1, 2), 1),
            _case((1, 4, 1, 1), 2),
            _case((2, 6, 5, 7), 3),
            _case((3, 32, 9, 11), 8, shift=20.0),
            _case((2, 8, 33, 65), 2, shift=50.0),  # 8580-element groups: the multi-block path
            _case((2, 4, 3, 5, 7), 4),  # 3-D spatial
            _case((2, 12, 5, 7), 4, channels_last=True),
        ],
        bench_cases={
            "cpu": [
                _case((1, 32, 16, 16), 8, quick=True),
                _case((8, 64, 32, 32), 32, quick=True),
                _case((16, 128, 32, 32), 32),
                _case((16, 128, 64, 64), 32, quick=True),
                _case((16, 128, 64, 64), 32, quick=True, channels_last=True),
            ],
            "cuda": [
                _case((1, 32, 16, 16), 8),
                _case((8, 64, 32, 32), 32, quick=True),
                _case((16, 128, 64, 64), 32, quick=True),
                _case((16, 256, 64, 64), 32),
                _case((16, 512, 64, 64), 32, quick=True),
                _case((16, 512, 64, 64), 32, quick=True, channels_last=True),
            ],
        },
        backends={"triton": group_norm_silu_triton} if triton_mode.triton_available() else {},
    )
)

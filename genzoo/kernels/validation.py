"""Input checks shared by every launcher, so that bad input fails with an error that names the
argument instead of a wrong result or a crash inside Triton."""

from __future__ import annotations

from collections.abc import Sequence

import torch

FLOAT_DTYPES = (torch.float32, torch.float16, torch.bfloat16)


class KernelInputError(ValueError):
    """An argument of an op is unfit for the kernel: the message names it."""


def check_tensor(
    name: str,
    tensor: object,
    *,
    dtypes: Sequence[torch.dtype] = FLOAT_DTYPES,
    device: torch.device | str | None = None,
    ndim: int | None = None,
    min_ndim: int | None = None,
    contiguous: bool = True,
    allow_empty: bool = True,
) -> torch.Tensor:
    if not isinstance(tensor, torch.Tensor):
        raise KernelInputError(f"{name} must be a torch.Tensor, got {type(tensor).__name__}")
    if tensor.dtype not in dtypes:
        allowed = ", ".join(str(d).removeprefix("torch.") for d in dtypes)
        raise KernelInputError(f"{name} has dtype {tensor.dtype}; this kernel takes {allowed}")
    if device is not None and tensor.device.type != torch.device(device).type:
        raise KernelInputError(f"{name} is on {tensor.device}; this kernel runs on {device}")
    if ndim is not None and tensor.ndim != ndim:
        raise KernelInputError(f"{name} must have {ndim} dimensions, got shape {tuple(tensor.shape)}")
    if min_ndim is not None and tensor.ndim < min_ndim:
        raise KernelInputError(
            f"{name} must have at least {min_ndim} dimensions, got shape {tuple(tensor.shape)}"
        )
    if contiguous and not tensor.is_contiguous():
        raise KernelInputError(
            f"{name} must be contiguous (strides {tensor.stride()} for shape {tuple(tensor.shape)}); "
            f"call .contiguous() first"
        )
    if not allow_empty and tensor.numel() == 0:
        raise KernelInputError(f"{name} is empty (shape {tuple(tensor.shape)})")
    return tensor


def check_like(name: str, tensor: torch.Tensor, ref_name: str, ref: torch.Tensor) -> None:
    """``tensor`` must have the shape, dtype and device of ``ref``."""
    if tensor.shape != ref.shape:
        raise KernelInputError(
            f"{name} has shape {tuple(tensor.shape)} but {ref_name} has {tuple(ref.shape)}"
        )
    if tensor.dtype != ref.dtype:
        raise KernelInputError(f"{name} has dtype {tensor.dtype} but {ref_name} has {ref.dtype}")
    if tensor.device != ref.device:
        raise KernelInputError(f"{name} is on {tensor.device} but {ref_name} is on {ref.device}")


def is_channels_last(name: str, tensor: torch.Tensor) -> bool:
    """Whether ``tensor`` [N, C, *spatial] is dense with channels innermost (as
    ``torch.channels_last`` lays out 4-D tensors), False when contiguous; any other layout is
    refused by name. A tensor that is both (one channel, or one spatial position) counts as
    contiguous."""
    if tensor.is_contiguous():
        return False
    if tensor.ndim >= 3 and tensor.movedim(1, -1).is_contiguous():
        return True
    raise KernelInputError(
        f"{name} must be contiguous or channels-last (strides {tensor.stride()} for shape "
        f"{tuple(tensor.shape)}); call .contiguous() first"
    )


def check_out(out: torch.Tensor | None, like_name: str, like: torch.Tensor) -> torch.Tensor:
    """Return ``out`` checked against ``like``, or a fresh tensor shaped like it."""
    if out is None:
        return torch.empty_like(like, memory_format=torch.contiguous_format)
    check_tensor("out", out, dtypes=(like.dtype,))
    check_like("out", out, like_name, like)
    return out


def check_finite_scalar(name: str, value: object) -> float:
    try:
        value = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise KernelInputError(f"{name} must be a real number, got {value!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise KernelInputError(f"{name} must be finite, got {value}")
    return value


def check_choice(name: str, value: object, choices: Sequence[str]) -> str:
    if value not in choices:
        raise KernelInputError(f"{name} must be one of {list(choices)}, got {value!r}")
    return value  # type: ignore[return-value]


def check_no_grad(op_name: str, **tensors: torch.Tensor | None) -> None:
    """Forward-only kernels refuse inputs that autograd would need a backward for."""
    if not torch.is_grad_enabled():
        return
    for name, tensor in tensors.items():
        if tensor is not None and tensor.requires_grad:
            raise KernelInputError(
                f"{name} requires grad, but the triton {op_name} kernel is forward-only; "
                f"run it under torch.no_grad() or use the eager backend for training"
            )

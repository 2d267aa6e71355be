"""genzoo's fused ops, one file each, and the registry that selects their backend.

from genzoo import kernels
with kernels.use("triton"):
    x_prev = kernels.ops.ddim_step(eps, x_t, alpha_t, alpha_prev)
"""

from genzoo.kernels import triton_mode

triton_mode.configure()  # before any kernel module is imported: Triton reads it at decoration

# importing an op's module registers it (attention_ops: the attention kernels' three ops)
from genzoo.kernels import attention_ops, denoising_step, group_norm_silu  # noqa: E402,F401
from genzoo.kernels.registry import (  # noqa: E402
    BACKENDS,
    Call,
    Case,
    Cost,
    Op,
    all_ops,
    call,
    current_backend,
    get,
    ops,
    register,
    use,
)
from genzoo.kernels.validation import KernelInputError  # noqa: E402

__all__ = [
    "BACKENDS",
    "Call",
    "Case",
    "Cost",
    "KernelInputError",
    "Op",
    "all_ops",
    "call",
    "current_backend",
    "get",
    "ops",
    "register",
    "use",
]

"""What a Triton kernel compiles to for a GPU, read without the GPU.

Registers, local memory (spills), shared memory and the instructions that decide speed come
from the compiler, not from a device: Triton compiles for any target with its bundled ``ptxas``,
and ``cuobjdump`` reads the machine code. On Hopper (sm_90) the instructions that matter are
``HGMMA`` (the warpgroup tensor-core product; ``HMMA`` is the older, slower path), 16-byte loads
and stores (``LDG.E.128``, ``STG.E.128``), asynchronous copies into shared memory (``LDGSTS``,
the ``UTMALDG`` tensor-memory copy) and local-memory traffic (``LDL``/``STL``: spills).

The launchers run as they do on a GPU, on CPU tensors of the real shapes, but each launch is
captured instead of run, specialised as Triton's JIT would specialise it (an integer equal to 1
becomes a constant, integers and pointers divisible by 16 are marked so), and compiled for every
config the autotuner would try. Run it in a process with ``TRITON_INTERPRET=0`` and no GPU:

    TRITON_INTERPRET=0 python -m genzoo.kernel_inspection
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import os
import re
import subprocess
import tempfile
from collections.abc import Callable, Iterator

import torch

INSTRUCTIONS = ("HGMMA", "HMMA", "LDG.E.128", "STG.E.128", "LDGSTS", "UTMALDG", "LDL", "STL")
HOPPER = ("cuda", 90, 32)  # backend, compute capability, warp size


@dataclasses.dataclass(frozen=True)
class Launch:
    kernel: object  # a triton JITFunction
    arguments: dict[str, object]  # every kernel parameter by name (constexprs included)
    options: dict[str, int]  # num_warps, num_stages, ...


@dataclasses.dataclass(frozen=True)
class KernelReport:
    kernel: str
    config: str  # the constexprs that autotuning varies, and the launch options
    registers: int  # per thread
    stack_bytes: int  # local memory per thread: spills, or a register array indexed at run time
    shared_bytes: int
    instructions: dict[str, int]  # counts in the machine code, INSTRUCTIONS only

    @property
    def spills(self) -> bool:
        return self.stack_bytes > 0 or self.instructions["LDL"] + self.instructions["STL"] > 0


@contextlib.contextmanager
def captured_launches() -> Iterator[list[Launch]]:
    """Inside, Triton launches are recorded (one ``Launch`` per config an autotuner would try)
    and nothing runs; launchers that read the device (multiprocessor count, compute capability)
    see an H100."""
    from unittest import mock

    from triton.runtime.autotuner import Autotuner
    from triton.runtime.jit import JITFunction
    from triton.tools.tensor_descriptor import TensorDescriptor

    launches: list[Launch] = []

    def jit_run(self, *args, grid, warmup, **kwargs):
        named = dict(zip(self.arg_names, args))
        options = {k: v for k, v in kwargs.items() if k not in self.arg_names}
        launches.append(
            Launch(self, {**named, **{k: v for k, v in kwargs.items() if k in self.arg_names}}, options)
        )

    def autotuner_run(self, *args, **kwargs):
        self.nargs = dict(zip(self.arg_names, args))
        for config in self.prune_configs(kwargs):
            arguments = {**self.nargs, **kwargs, **config.kwargs}
            if config.pre_hook:  # it may reshape tensor descriptors: each launch keeps its own copy
                arguments = {
                    k: copy.copy(v) if isinstance(v, TensorDescriptor) else v for k, v in arguments.items()
                }
                config.pre_hook(arguments)
            options = {"num_warps": config.num_warps, "num_stages": config.num_stages}
            launches.append(Launch(self.fn, arguments, options))
        self.nargs = None

    h100 = mock.Mock(multi_processor_count=132, major=9, minor=0)
    saved = JITFunction.run, Autotuner.run
    JITFunction.run, Autotuner.run = jit_run, autotuner_run
    try:
        with mock.patch("torch.cuda.get_device_properties", return_value=h100):
            yield launches
    finally:
        JITFunction.run, Autotuner.run = saved


def compile_launch(launch: Launch, target: tuple[str, int, int] = HOPPER):
    """The launch compiled as Triton's JIT would compile it for ``target``."""
    import triton
    from triton._C.libtriton import native_specialize_impl
    from triton.backends.compiler import BaseBackend, GPUTarget
    from triton.compiler import ASTSource

    kernel = launch.kernel
    signature, constexprs, attrs = {}, {}, {}
    for index, (name, param) in enumerate(zip(kernel.arg_names, kernel.params)):
        value = launch.arguments[name]
        if param.is_constexpr:
            signature[name], constexprs[name] = "constexpr", value
            continue
        kind, specialisation = native_specialize_impl(BaseBackend, value, False, True, True)
        signature[name] = kind
        if kind == "constexpr":  # an integer equal to 1
            constexprs[name] = value
        elif isinstance(specialisation, str) and specialisation:
            attrs[(index,)] = BaseBackend.parse_attr(specialisation)
    source = ASTSource(kernel, signature, constexprs, attrs)
    return triton.compile(source, target=GPUTarget(*target), options=launch.options)


def _cuobjdump(flag: str, cubin: bytes) -> str:
    import triton

    tool = os.path.join(os.path.dirname(triton.__file__), "backends", "nvidia", "bin", "cuobjdump")
    with tempfile.NamedTemporaryFile(suffix=".cubin") as file:
        file.write(cubin)
        file.flush()
        return subprocess.run([tool, flag, file.name], capture_output=True, text=True, check=True).stdout


def report(
    launch: Launch, varied: tuple[str, ...] = (), target: tuple[str, int, int] = HOPPER
) -> KernelReport:
    compiled = compile_launch(launch, target)
    cubin = compiled.asm["cubin"]
    sass, usage = _cuobjdump("-sass", cubin), _cuobjdump("-res-usage", cubin)
    config = [f"{name}={launch.arguments[name]}" for name in varied if name in launch.arguments]
    config += ["TMA"] if launch.arguments.get("USE_TMA") else []
    config += [f"{key.removeprefix('num_')}={value}" for key, value in sorted(launch.options.items())]
    return KernelReport(
        kernel=launch.kernel.__name__,
        config=" ".join(config),
        registers=int(re.search(r"REG:(\d+)", usage).group(1)),
        stack_bytes=int(re.search(r"STACK:(\d+)", usage).group(1)),
        shared_bytes=compiled.metadata.shared,
        instructions={name: len(re.findall(rf"\b{re.escape(name)}\b", sass)) for name in INSTRUCTIONS},
    )


def inspect(
    run_launcher: Callable[[], object], varied=("BLOCK_M", "BLOCK_N", "BLOCK_S", "BLOCK"), target=HOPPER
) -> list[KernelReport]:
    """Reports of every kernel (and every autotuning config) that ``run_launcher`` launches."""
    with captured_launches() as launches:
        run_launcher()
    return [report(launch, varied, target) for launch in launches]


def goal_launchers() -> dict[str, Callable[[], object]]:
    """The launches behind the GPU speed goals, and the backward at the forward goal's shape, on
    CPU tensors of those shapes (nothing runs)."""
    from genzoo.kernels import attention, attention_backward, denoising_step

    def qkv(batch, heads, kv_heads, seq_q, seq_k, head_dim):
        q = torch.randn(batch, heads, seq_q, head_dim, dtype=torch.bfloat16)
        k, v = (torch.randn(batch, kv_heads, seq_k, head_dim, dtype=torch.bfloat16) for _ in range(2))
        return q, k, v

    def backward():
        q, k, v, out, grad_out = (torch.randn(2, 16, 8192, 128, dtype=torch.bfloat16) for _ in range(5))
        lse = torch.randn(2, 16, 8192)
        attention_backward.flash_attention_backward(grad_out, q, k, v, out, lse, None, None, False, 0.088)

    def ddim_step():
        x, eps, eps_uncond = (torch.randn(2**20) for _ in range(3))
        denoising_step.ddim_step_triton(eps, x, 0.5, 0.6, model_output_uncond=eps_uncond, guidance_scale=3.0)

    return {
        "attention forward bf16 B2 H16 N8192 D128": lambda: attention.attention_triton(
            *qkv(2, 16, 16, 8192, 8192, 128)
        ),
        "attention forward bf16 B2 H16 N8192 D128 causal": lambda: attention.attention_triton(
            *qkv(2, 16, 16, 8192, 8192, 128), causal=True
        ),
        "attention decode bf16 B8 H32/8 KV32768 D128": lambda: attention.attention_decode_triton(
            *qkv(8, 32, 8, 1, 32768, 128)
        ),
        "ddim_step fp32 (CFG)": ddim_step,
        "attention backward bf16 B2 H16 N8192 D128": backward,
    }


def main() -> None:
    import pandas as pd

    for goal, launcher in goal_launchers().items():
        rows = [dataclasses.asdict(r) | r.instructions | {"spills": r.spills} for r in inspect(launcher)]
        frame = pd.DataFrame(rows).drop(columns=["instructions"])
        print(f"\n{goal} (sm_90)")
        print(frame.to_string(index=False))


if __name__ == "__main__":
    main()

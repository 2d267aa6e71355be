"""The one registry of ops and backends.

An op declares what it is (eager code, float64 reference, cost model, input maker) and which
backends implement it. Models and benchmarks never import a backend: they call
``kernels.call("ddim_step", ...)`` (or ``kernels.ops.ddim_step(...)``) and the backend chosen by
the innermost ``kernels.use(...)`` context runs. Tests and benchmarks are generated from this
registry, so an op is tested and benchmarked the moment it is registered.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch

BACKENDS = ("eager", "triton", "compile", "sdpa")
VENDOR_BACKENDS = ("sdpa",)  # the vendor's own fused path: the bar a kernel of ours must clear


@dataclasses.dataclass(frozen=True)
class Cost:
    """What an op must do at the least, whatever the backend: the bytes it has to read and write
    once each, and the floating-point operations of its math. Timings divide by these."""

    bytes_moved: int
    flops: int


@dataclasses.dataclass(frozen=True)
class Call:
    """One ready-made invocation of an op: positional and keyword arguments."""

    args: tuple
    kwargs: dict

    def run(self, fn: Callable) -> Any:
        return fn(*self.args, **self.kwargs)


@dataclasses.dataclass(frozen=True)
class Case:
    """A named input configuration of an op, e.g. ``n=4194304`` or ``B2 H16 N8192 D128``."""

    label: str
    params: dict
    quick: bool = False  # part of the ``--quick`` benchmark grid


@dataclasses.dataclass
class Op:
    """An op and everything the harness needs to test, time and report it.

    ``make_call(case, dtype, device, generator)`` returns fresh random inputs (never zeros) for a
    case; ``cost(call)`` returns the op's ``Cost``; ``reference`` computes in float64 from the
    same call; ``metric`` says whether speed is reported in GB/s (memory bound) or TFLOP/s.
    ``test_cases`` are small and odd (they run under Triton's interpreter); ``bench_cases`` map a
    device type ("cpu", "cuda") to the benchmark grid, small (launch-bound) to large.
    """

    name: str
    eager: Callable
    reference: Callable
    cost: Callable[[Call], Cost]
    make_call: Callable[[Case, torch.dtype, str, torch.Generator], Call]
    metric: str  # "GB/s" or "TFLOP/s"
    test_cases: Sequence[Case]
    bench_cases: dict[str, Sequence[Case]]
    dtypes: Sequence[torch.dtype] = (torch.float32, torch.bfloat16, torch.float16)
    backends: dict[str, Callable] = dataclasses.field(default_factory=dict)
    accepts_out: bool = True  # the triton launcher takes ``out=`` so tests can poison it

    def __post_init__(self) -> None:
        if self.metric not in ("GB/s", "TFLOP/s"):
            raise ValueError(f"op {self.name!r}: metric must be 'GB/s' or 'TFLOP/s', got {self.metric!r}")
        self.backends.setdefault("eager", self.eager)
        self.backends.setdefault("compile", compiled(self.eager))

    @property
    def vendor_backend(self) -> str | None:
        return next((b for b in VENDOR_BACKENDS if b in self.backends), None)

    def implementation(self, backend: str) -> Callable:
        try:
            return self.backends[backend]
        except KeyError:
            raise KeyError(
                f"op {self.name!r} has no backend {backend!r}; it has {sorted(self.backends)}"
            ) from None


def compiled(fn: Callable) -> Callable:
    """``torch.compile(fn)``, built on first use so that importing genzoo stays cheap."""
    compiled_fn: Callable | None = None

    def run(*args: Any, **kwargs: Any) -> Any:
        nonlocal compiled_fn
        if compiled_fn is None:
            compiled_fn = torch.compile(fn)
        return compiled_fn(*args, **kwargs)

    run.__name__ = f"compiled_{getattr(fn, '__name__', 'op')}"
    return run


def float64_reference(fn: Callable) -> Callable:
    """``fn`` run on float64 copies of its floating-point tensor arguments (``out`` dropped)."""

    def to64(value: Any) -> Any:
        if isinstance(value, torch.Tensor) and value.is_floating_point():
            return value.detach().to(torch.float64)
        return value

    def reference(*args: Any, **kwargs: Any) -> Any:
        kwargs.pop("out", None)
        return fn(*map(to64, args), **{k: to64(v) for k, v in kwargs.items()})

    reference.__name__ = f"{getattr(fn, '__name__', 'op')}_float64"
    return reference


_REGISTRY: dict[str, Op] = {}


def register(op: Op) -> Op:
    if op.name in _REGISTRY:
        raise ValueError(f"op {op.name!r} is registered twice")
    unknown = set(op.backends) - set(BACKENDS)
    if unknown:
        raise ValueError(f"op {op.name!r}: unknown backends {sorted(unknown)}; known: {BACKENDS}")
    _REGISTRY[op.name] = op
    return op


def get(name: str) -> Op:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"no op named {name!r}; registered: {sorted(_REGISTRY)}") from None


def all_ops() -> list[Op]:
    return [_REGISTRY[name] for name in sorted(_REGISTRY)]


@dataclasses.dataclass(frozen=True)
class Selection:
    """The backend in force: ``backend`` for every op that has it, ``fallback`` for ops that do
    not (``None``: such a call raises). ``only`` limits the selection to the named ops."""

    backend: str = "eager"
    fallback: str | None = "eager"
    only: frozenset[str] | None = None

    def backend_for(self, op: Op) -> str:
        if self.only is not None and op.name not in self.only:
            return "eager"
        if self.backend in op.backends:
            return self.backend
        if self.fallback is None:
            raise KeyError(
                f"op {op.name!r} has no backend {self.backend!r} and no fallback was allowed; "
                f"it has {sorted(op.backends)}"
            )
        return self.fallback


# The selections in force, innermost last. A plain module-level stack rather than a ContextVar:
# torch.compile(fullgraph=True) traces through a list read but not through ContextVar.get, and
# models call the registry inside compiled code. The selection is therefore process-wide.
_SELECTION: list[Selection] = [Selection()]


@contextlib.contextmanager
def use(backend: str, *, fallback: str | None = "eager", ops: Sequence[str] | None = None) -> Iterator[None]:
    """Run every registered op inside the block on ``backend``.

    >>> with kernels.use("triton"):
    ...     x = model.sample(...)      # every op the model asks for runs its Triton kernel

    Ops without that backend run ``fallback`` (eager by default; ``None`` makes them raise).
    ``ops`` restricts the switch to the named ops.
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; known: {BACKENDS}")
    if ops is not None:
        for name in ops:
            get(name)  # a typo must fail loudly, not select nothing
    _SELECTION.append(Selection(backend, fallback, None if ops is None else frozenset(ops)))
    try:
        yield
    finally:
        _SELECTION.pop()


def current_backend(name: str) -> str:
    """The backend that ``call(name, ...)`` would run right now."""
    return _SELECTION[-1].backend_for(get(name))


def call(name: str, *args: Any, **kwargs: Any) -> Any:
    op = get(name)
    return op.implementation(_SELECTION[-1].backend_for(op))(*args, **kwargs)


class _OpNamespace:
    """``kernels.ops.ddim_step(...)`` is ``kernels.call("ddim_step", ...)``."""

    def __getattr__(self, name: str) -> Callable:
        get(name)
        return lambda *args, **kwargs: call(name, *args, **kwargs)

    def __dir__(self) -> list[str]:
        return sorted(_REGISTRY)


ops = _OpNamespace()

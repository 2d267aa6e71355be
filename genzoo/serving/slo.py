"""Service level objectives for goodput, as vLLM's ``--goodput ttft:500 tpot:50`` states them.

``check_goodput_args`` and ``parse_goodput`` in ``vllm/benchmarks/serve.py`` (formerly
``benchmarks/benchmark_serving.py``) accept the keys ``ttft``, ``tpot`` and ``e2el``, each a
non-negative limit in milliseconds; a request is good when it meets every stated limit.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable

MILLISECONDS_PER_SECOND = 1000  # vLLM's MILLISECONDS_TO_SECONDS_CONVERSION
SLO_NAMES = ("ttft", "tpot", "e2el")


@dataclasses.dataclass(frozen=True)
class ServiceLevels:
    """Upper limits in milliseconds; ``None`` where no limit is stated."""

    ttft_ms: float | None = None
    tpot_ms: float | None = None
    e2el_ms: float | None = None

    def __post_init__(self) -> None:
        for name in SLO_NAMES:
            value = getattr(self, f"{name}_ms")
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"ServiceLevels.{name}_ms must be a finite number of ms, got {value!r}")
            if value < 0:
                raise ValueError(f"ServiceLevels.{name}_ms must be non-negative, got {value!r}")
        if not self.limits_s():
            raise ValueError("ServiceLevels states no limit: give at least one of ttft_ms, tpot_ms, e2el_ms")

    @classmethod
    def from_pairs(cls, pairs: Iterable[str]) -> ServiceLevels:
        """``["ttft:500", "tpot:50"]``, vLLM's ``--goodput`` arguments."""
        limits: dict[str, float] = {}
        for pair in pairs:
            name, sep, value = pair.partition(":")
            if not sep or name not in SLO_NAMES:
                raise ValueError(
                    f"a service level must read NAME:MS with NAME one of {SLO_NAMES}, got {pair!r}"
                )
            try:
                limits[f"{name}_ms"] = float(value)
            except ValueError:
                raise ValueError(f"the limit of {pair!r} is not a number of milliseconds") from None
        return cls(**limits)

    def limits_s(self) -> dict[str, float]:
        """The stated limits in seconds, converted as vLLM does (``ms / 1000``)."""
        limits = {name: getattr(self, f"{name}_ms") for name in SLO_NAMES}
        return {name: ms / MILLISECONDS_PER_SECOND for name, ms in limits.items() if ms is not None}

    def describe(self) -> str:
        """``ttft<=500ms tpot<=50ms``: the limits for a row's note."""
        limits = ((name, getattr(self, f"{name}_ms")) for name in SLO_NAMES)
        return " ".join(f"{name}<={ms:g}ms" for name, ms in limits if ms is not None)

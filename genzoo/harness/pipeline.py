"""The one pipeline: every measured point, op or model or sweep point, goes through ``measure``.

    point -> fresh inputs, backend applied (``subject.prepared``) -> warm-up, which compiles ->
    checked output (``subject.check``: error against its reference) -> warm-up again -> synchronized
    timing, with no recompilation inside -> ``subject.row``: the ``Measurement``

A subject knows its point; a ``Timer`` knows how to repeat a call (genzoo's own loop with CUDA
events, or pytest-benchmark's ``pedantic`` in ``bench/``); ``Baselines`` keeps what later points
are compared with (eager's and the vendor's medians, eager fp32's outputs), measured in the same
run.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, Protocol

from genzoo.harness import backends
from genzoo.harness.timing import Timing
from genzoo.measurement import Measurement

Timer = Callable[[Callable[[], object]], Timing]


@dataclasses.dataclass
class Baselines:
    """Medians and outputs of the baselines, by the key their points give."""

    medians: dict[tuple, float] = dataclasses.field(default_factory=dict)
    outputs: dict[tuple, Any] = dataclasses.field(default_factory=dict)


class Subject(Protocol):
    label: str

    def prepared(self) -> AbstractContextManager[Callable[[], object]]:
        """Inside: a call on fresh inputs with the backend applied, what is warmed up and timed."""

    def warm_up(self, run: Callable[[], object]) -> object:
        """The untimed first call (it compiles); its output is the one checked."""

    def check(self, output: object, baselines: Baselines) -> Any:
        """How right ``output`` (of the warm-up call) is."""

    def row(self, timing: Timing, check: Any, baselines: Baselines) -> Measurement:
        """The row, with speed figures only where the gate allows; records this point's baseline."""


def measure(subject: Subject, timer: Timer, baselines: Baselines) -> Measurement:
    with subject.prepared() as run:
        with backends.compiled_fallback_is_error(subject.label):
            output = subject.warm_up(run)  # compiles, autotunes, fills caches
        check = subject.check(output, baselines)
        del output
        # the check may have run the compiled model on other shapes (an LLM's error windows, a
        # kernel swap's smaller batch) or reset dynamo: warm the timed call's shapes once more
        with backends.compiled_fallback_is_error(subject.label):
            subject.warm_up(run)
        with backends.no_recompilation(subject.label):
            timing = timer(run)
    return subject.row(timing, check, baselines)

"""General-purpose compressors as anchors of a code model's bits per byte on the same held-out bytes.

A compressor is a model of bytes too: its compressed size in bits over the input's bytes is an
achievable code length, so an LM that scores above ``gzip -9`` has learnt less about the text than
LZ77 with Huffman codes. Two anchors:

- ``gzip``: DEFLATE at level 9 in a gzip member (``gzip -9``; 18 bytes of header and trailer);
- ``xz``: LZMA2 at preset 9 | EXTREME in the xz container (``xz -9e``).

Each is given two ways. ``concatenated``: the held-out modules joined into one input, compressed
once: the usual figure, but a single number: its cost of a module depends on the modules before
it (xz's 64 MiB dictionary reaches back through all of them), so it does not split into
independent parts to resample. ``per_module``: each module compressed alone (as the LM scores
each module from its start), pooled as total compressed bits over total bytes, with the same
cluster bootstrap over modules as the LM's figure (``text.module_interval``): the like-for-like
comparison, a little worse than ``concatenated`` (each module pays its container and a cold start).
"""

from __future__ import annotations

import dataclasses
import gzip
import lzma
import math
from collections.abc import Callable, Sequence

from genzoo import stats
from genzoo.quality.inputs import QualityInputError
from genzoo.quality.text import module_interval


def gzip_size(data: bytes) -> int:
    """Bytes of ``gzip -9``'s output (mtime 0: the size does not depend on the clock)."""
    return len(gzip.compress(data, compresslevel=9, mtime=0))


def xz_size(data: bytes) -> int:
    """Bytes of ``xz -9e``'s output."""
    return len(lzma.compress(data, format=lzma.FORMAT_XZ, preset=9 | lzma.PRESET_EXTREME))


COMPRESSORS: dict[str, Callable[[bytes], int]] = {"gzip": gzip_size, "xz": xz_size}


@dataclasses.dataclass(frozen=True)
class CompressorAnchor:
    compressor: str
    concatenated: float  # bits per byte of the modules joined and compressed once: no interval
    per_module: stats.Interval  # of each module compressed alone, pooled; interval over modules


def compressor_anchors(
    modules: Sequence[bytes], *, resamples: int = 2000, seed: int = 0
) -> list[CompressorAnchor]:
    """Bits per byte of each compressor on ``modules`` (at least 2, none empty)."""
    if len(modules) < 2 or not all(isinstance(m, bytes) and m for m in modules):
        raise QualityInputError("modules must be at least 2 non-empty bytes objects")
    total_bytes = sum(map(len, modules))
    anchors = []
    for name, size in COMPRESSORS.items():
        # the interval helper pools nats; a module's compressed bits times ln 2 are its nats
        module_nats = [8 * size(module) * math.log(2) for module in modules]
        anchors.append(
            CompressorAnchor(
                compressor=name,
                concatenated=8 * size(b"".join(modules)) / total_bytes,
                per_module=module_interval(
                    module_nats, [len(m) for m in modules], resamples=resamples, seed=seed
                ),
            )
        )
    return anchors

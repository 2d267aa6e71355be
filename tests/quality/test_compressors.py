"""gzip and xz anchors: the figures are the gzip and lzma modules' own output sizes."""

from __future__ import annotations

import gzip
import lzma
import os

import pytest

from genzoo.models.data import load_code_corpus
from genzoo.quality.compressors import compressor_anchors, gzip_size, xz_size
from genzoo.quality.inputs import QualityInputError


@pytest.fixture(scope="module")
def modules():
    return load_code_corpus().validation_modules


def test_sizes_are_what_gzip_and_lzma_write_and_they_decompress(modules):
    data = b"".join(modules[:3])
    packed_gzip = gzip.compress(data, compresslevel=9, mtime=0)
    packed_xz = lzma.compress(data, preset=9 | lzma.PRESET_EXTREME)
    assert gzip_size(data) == len(packed_gzip) and gzip.decompress(packed_gzip) == data
    assert xz_size(data) == len(packed_xz) and lzma.decompress(packed_xz) == data


def test_anchors_on_the_held_out_bytes(modules):
    anchors = {a.compressor: a for a in compressor_anchors(modules, resamples=300)}
    joined, total = b"".join(modules), sum(map(len, modules))
    assert anchors["gzip"].concatenated == pytest.approx(8 * len(gzip.compress(joined, 9)) / total, abs=1e-3)
    expected_xz = 8 * len(lzma.compress(joined, preset=9 | lzma.PRESET_EXTREME)) / total
    assert anchors["xz"].concatenated == pytest.approx(expected_xz, rel=1e-12)
    for name, size in (("gzip", gzip_size), ("xz", xz_size)):
        per_module = anchors[name].per_module
        assert per_module.estimate == pytest.approx(8 * sum(size(m) for m in modules) / total, rel=1e-12)
        assert per_module.low < per_module.estimate < per_module.high and per_module.n == len(modules)
        # compressed alone each module starts cold: never better than all of them in one stream
        assert per_module.estimate > anchors[name].concatenated
    assert anchors["xz"].concatenated < anchors["gzip"].concatenated < 8


def test_random_bytes_do_not_compress_and_repeats_do():
    noise = {
        a.compressor: a.concatenated for a in compressor_anchors([os.urandom(20_000), os.urandom(20_000)])
    }
    assert all(value > 7.9 for value in noise.values())
    repeats = {a.compressor: a.concatenated for a in compressor_anchors([b"def f(x):\n" * 3000] * 2)}
    assert all(value < 0.1 for value in repeats.values())


def test_bad_input_is_refused():
    with pytest.raises(QualityInputError, match="at least 2 non-empty bytes"):
        compressor_anchors([b"only one"])
    with pytest.raises(QualityInputError, match="at least 2 non-empty bytes"):
        compressor_anchors([b"x", b""])

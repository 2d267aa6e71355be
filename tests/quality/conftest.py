"""The tiny feature net and an image-quality reference on it, built once per session in a
temporary cache directory (never the user's), for the tests that only read them."""

from __future__ import annotations

import pytest
import torch

from genzoo.models.data import load_mnist
from genzoo.quality.feature_net import PRESETS
from genzoo.quality.image_quality import ImageQualityConfig, ImageQualityReference

# few bootstrap replicates: the tests check plumbing and direction, not the intervals' coverage
TINY_QUALITY = ImageQualityConfig(feature_net=PRESETS["tiny"], resamples=20)


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """These tests run small tensors on 2 shared cores, where a second intra-op thread spins in
    synchronisation: training the tiny net took 41 s with 2 threads against 0.9 s with 1."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        path = tmp_path_factory.mktemp("genzoo_cache")
        patch.setenv("GENZOO_CACHE_DIR", str(path))
        yield path


@pytest.fixture(scope="session")
def mnist():
    return load_mnist()


@pytest.fixture(scope="session")
def tiny_reference(session_cache) -> ImageQualityReference:
    return ImageQualityReference(TINY_QUALITY)


@pytest.fixture(scope="session")
def tiny_net(tiny_reference):
    return tiny_reference.trained.net

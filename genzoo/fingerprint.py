"""The environment a result was measured in: it travels with every result row."""

from __future__ import annotations

import dataclasses
import importlib.metadata
import os
import platform
import subprocess
from pathlib import Path

import torch

from genzoo.kernels import triton_mode

PACKAGES = ("torch", "triton", "numpy", "diffusers", "transformers", "pandas", "pytest-benchmark")


@dataclasses.dataclass(frozen=True)
class Fingerprint:
    git_commit: str
    git_dirty: bool
    python: str
    packages: dict[str, str]
    device: str
    device_name: str
    cpu_model: str
    cpu_count: int
    torch_threads: int
    triton_interpreted: bool
    hostname: str

    def as_flat_dict(self) -> dict[str, object]:
        flat = {k: v for k, v in dataclasses.asdict(self).items() if k != "packages"}
        flat.update({f"version_{name}": version for name, version in self.packages.items()})
        return flat


def _git(*args: str) -> str | None:
    repo = Path(__file__).resolve().parent.parent
    try:
        result = subprocess.run(
            ["git", *args], cwd=repo, capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip()


def _package_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "absent"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def collect(device: str) -> Fingerprint:
    kind = torch.device(device).type
    return Fingerprint(
        # a copy of the checkout without .git (as a lent GPU machine gets) names it in the environment
        git_commit=_git("rev-parse", "HEAD") or os.environ.get("GENZOO_GIT_COMMIT", "unknown"),
        git_dirty=bool(_git("status", "--porcelain", "--untracked-files=no")),
        python=platform.python_version(),
        packages={name: _package_version(name) for name in PACKAGES},
        device=kind,
        device_name=torch.cuda.get_device_name(device) if kind == "cuda" else cpu_model(),
        cpu_model=cpu_model(),
        cpu_count=os.cpu_count() or 0,
        torch_threads=torch.get_num_threads(),
        triton_interpreted=triton_mode.interpreted(),
        hostname=platform.node(),
    )

"""A synthetic results directory holding every kind of row the report draws: op rows for three
ops, two dtypes and three backends (one out of tolerance and one interpreted, both carrying a
bogus speedup that the report must refuse), ceilings, and sweep/quality rows of four families,
plus sample grids and an LLM text sample."""

from __future__ import annotations

import numpy as np
from matplotlib import image

from genzoo.measurement import Measurement
from genzoo.results.store import RunDir

FINGERPRINT = {"hostname": "box-a", "device": "cuda", "device_name": "Synthetic GPU A", "git_commit": "abc123",
               "python": "3.11.7", "version_torch": "2.13.0", "triton_interpreted": False}  # fmt: skip
OPS = {"ddim_step": "GB/s", "group_norm_silu": "GB/s", "attention": "TFLOP/s"}
BOGUS_SPEEDUP = 9.87  # planted on the rows that must not claim speed


def op_rows(rng: np.random.Generator) -> list[Measurement]:
    rows = []
    for op, unit in OPS.items():
        ceiling = 900.0 if unit == "GB/s" else 60.0
        for dtype in ("float32", "bfloat16"):
            for case, eager_s in (("n=2^10", 2e-5), ("n=2^20", 8e-4)):
                for backend, factor in (("eager", 1.0), ("triton", 0.55), ("compile", 0.75)):
                    median = eager_s * factor * rng.uniform(0.9, 1.1)
                    outside = op == "group_norm_silu" and backend == "triton" and dtype == "bfloat16" and case == "n=2^20"
                    interpreted = op == "attention" and backend == "triton" and dtype == "float32" and case == "n=2^10"
                    trusted = not (outside or interpreted)
                    throughput = 0.4 * ceiling / factor * rng.uniform(0.8, 1.0)
                    rows.append(Measurement(
                        kind="op", subject=op, backend=backend, dtype=dtype, case=case, metric="latency",
                        value=median, unit="s", p20=median * 0.97, p80=median * 1.04, rounds=50,
                        throughput=throughput if trusted else None, throughput_unit=unit,
                        fraction_of_ceiling=throughput / ceiling if trusted else None,
                        speedup_vs_eager=(1 / factor if trusted else BOGUS_SPEEDUP) if backend != "eager" else 1.0,
                        error=3e-2 if outside else 1e-4, error_limit=1e-2, within_tolerance=not outside,
                        interpreted=interpreted,
                    ))  # fmt: skip
    return rows


def ceiling_rows() -> list[Measurement]:
    return [
        Measurement("ceiling", "copy", "-", "float32", "large copy", "copy_bandwidth", 900.0, "GB/s"),
        Measurement("ceiling", "matmul", "-", "float32", "square matmul", "matmul_float32", 60.0, "TFLOP/s"),
        Measurement("ceiling", "matmul", "-", "bfloat16", "square matmul", "matmul_bfloat16", 400.0, "TFLOP/s"),
    ]


def family_rows(rng: np.random.Generator) -> list[Measurement]:
    rows = []

    def add(family, backend, dtype, case, metric, value, unit="", **extra):
        kind = "quality" if unit == "" else "sweep"
        rows.append(Measurement(kind, family, backend, dtype, case, metric, float(value), unit, **extra))

    for backend, speed in (("eager", 1.0), ("triton", 1.6), ("sdpa", 1.3)):
        for dtype, cost in (("float32", 0.0), ("bfloat16", 0.004)):
            case = "prompt=64 new=32"
            add("llm", backend, dtype, case, "tokens_per_s", 800 * speed * (1.4 if dtype == "bfloat16" else 1), "tokens/s")
            add("llm", backend, dtype, case, "bits_per_byte", 2.31 + cost + 0.001 * speed)
    for backend, speed in (("eager", 1.0), ("triton", 1.7)):
        for steps in (10, 20, 50):
            for w in (1, 3):
                case = f"ddim steps={steps} w={w}"
                add("diffusion", backend, "bfloat16", case, "images_per_s", 400 / steps * speed, "images/s")
                fid = 40 - 12 * np.log10(steps) + (1.5 if w == 1 else 0) + (0.3 if backend == "triton" else 0)
                add("diffusion", backend, "bfloat16", case, "fid", fid, samples=500)
                add("diffusion", backend, "bfloat16", case, "precision", 0.5 + steps / 200)
    for backend in ("eager", "triton"):
        for seed in range(5):
            case = f"batch=64 seed={seed}"
            add("gan", backend, "float32", case, "images_per_s", 3000 * (1.3 if backend == "triton" else 1), "images/s")
            add("gan", backend, "float32", case, "fid", 25 + rng.normal(0, 2.0))
            add("gan", backend, "float32", case, "recall", 0.4 + rng.normal(0, 0.03))
    for backend, speed in (("eager", 1.0), ("triton", 1.2)):
        add("vae", backend, "float32", "latent=16", "images_per_s", 5000 * speed, "images/s")
        add("vae", backend, "float32", "latent=16", "fid", 60.0 + speed)
        add("vae", backend, "float32", "latent=16", "elbo", -95.0 - speed)
        add("vae", backend, "float32", "latent=16", "sharpness", 0.2)
    # an interpreted sweep point: its throughput must not reach any speed axis
    add("vae", "triton", "bfloat16", "latent=16", "images_per_s", 99999.0, "images/s", interpreted=True)
    add("vae", "triton", "bfloat16", "latent=16", "fid", 61.0, interpreted=True)
    return rows


def make_run(root, run_id="synthetic", fingerprint=FINGERPRINT, seed=0, samples=True) -> RunDir:
    rng = np.random.default_rng(seed)
    run = RunDir.create(root, run_id, fingerprint)
    run.write_rows("ceilings", ceiling_rows())
    run.write_rows("ops", op_rows(rng))
    run.write_rows("sweeps", family_rows(rng))
    if samples:
        for family in ("diffusion", "gan", "vae"):
            path = run.samples_dir / f"{family}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            image.imsave(path, rng.uniform(size=(28 * 4, 28 * 4)), cmap="gray")
        run.write_sample("llm.txt", "def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n")
    return run

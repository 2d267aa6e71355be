"""A synthetic results directory holding every kind of row the report draws, in the current
schema (``better`` and knobs on every row, as the harness writes them): op rows for three ops,
two dtypes and three backends, ceilings, and sweep/quality/training rows of the four installed
families, plus sample grids and an LLM text sample.

Planted, each carrying a bogus speedup that the report must refuse: an op variant outside its
tolerance, an interpreted op variant, a diffusion sweep point outside its quality window, an
interpreted VAE point and a VAE point measured on another device than the run's. Planted for the
claims: diffusion has the best FID and is the slowest (holds), the VAE is faster than the GAN
(so "GANs: fastest" does not hold), and the VAE has the least sharpness (blurriest holds).
"""

from __future__ import annotations

import numpy as np
from matplotlib import image

from genzoo.measurement import Measurement
from genzoo.results.store import RunDir

FINGERPRINT = {
    "hostname": "box-a",
    "device": "cuda",
    "device_name": "Synthetic GPU A",
    "git_commit": "abc123",
    "python": "3.11.7",
    "version_torch": "2.13.0",
    "triton_interpreted": False,
}
OPS = {"ddim_step": "GB/s", "group_norm_silu": "GB/s", "attention": "TFLOP/s"}
BOGUS_SPEEDUP = 9.87  # planted on the rows that must not claim speed
OUTSIDE_WINDOW = ("triton", "bfloat16", "ddim steps=10 w=1")  # the diffusion point outside its quality window
QUALITY_CHANGE = 0.25  # its planted headline change against eager float32 (window 0.10)
OTHER_DEVICE = ("compile", "float32", "latent=16")  # the VAE point the harness ran on the CPU


def op_rows(rng: np.random.Generator) -> list[Measurement]:
    rows = []
    for op, unit in OPS.items():
        ceiling = 900.0 if unit == "GB/s" else 60.0
        for dtype in ("float32", "bfloat16"):
            for n, eager_s in ((10, 2e-5), (20, 8e-4)):
                for backend, factor in (("eager", 1.0), ("triton", 0.55), ("compile", 0.75)):
                    case = f"n=2^{n}"
                    median = eager_s * factor * rng.uniform(0.9, 1.1)
                    outside = (
                        op == "group_norm_silu" and backend == "triton" and dtype == "bfloat16" and n == 20
                    )
                    interpreted = op == "attention" and backend == "triton" and dtype == "float32" and n == 10
                    trusted = not (outside or interpreted)
                    throughput = 0.4 * ceiling / factor * rng.uniform(0.8, 1.0)
                    speedup = (1 / factor if trusted else BOGUS_SPEEDUP) if backend != "eager" else 1.0
                    rows.append(
                        Measurement(
                            kind="op",
                            subject=op,
                            backend=backend,
                            dtype=dtype,
                            case=case,
                            metric="latency",
                            value=median,
                            unit="s",
                            better="lower",
                            p20=median * 0.97,
                            p80=median * 1.04,
                            rounds=50,
                            throughput=throughput if trusted else None,
                            throughput_unit=unit,
                            fraction_of_ceiling=throughput / ceiling if trusted else None,
                            speedup_vs_eager=speedup,
                            error=3e-2 if outside else 1e-4,
                            error_limit=1e-2,
                            within_tolerance=not outside,
                            interpreted=interpreted,
                            measured_on="cuda",
                            knobs=(("n", 2**n),),
                        )
                    )
    return rows


def ceiling_rows() -> list[Measurement]:
    def ceiling(subject, dtype, case, metric, value, unit):
        return Measurement(
            "ceiling", subject, "-", dtype, case, metric, value, unit, better="higher", measured_on="cuda"
        )

    return [
        ceiling("copy", "float32", "large copy", "copy_bandwidth", 900.0, "GB/s"),
        ceiling("matmul", "float32", "square matmul", "matmul_float32", 60.0, "TFLOP/s"),
        ceiling("matmul", "bfloat16", "square matmul", "matmul_bfloat16", 400.0, "TFLOP/s"),
    ]


class Rows:
    """Collects a family's rows: speeds are kind "sweep", everything unitless kind "quality"."""

    def __init__(self) -> None:
        self.rows: list[Measurement] = []

    def speed(self, family, backend, dtype, case, metric, value, unit, knobs, **extra):
        extra = {"speedup_vs_eager": 1.0 if backend == "eager" else 1.5, "measured_on": "cuda", **extra}
        self.rows.append(
            Measurement(
                "sweep",
                family,
                backend,
                dtype,
                case,
                metric,
                float(value),
                unit,
                better="higher",
                knobs=knobs,
                **extra,
            )
        )

    def quality(self, family, backend, dtype, case, metric, value, better, knobs, **extra):
        """A quality figure with a 95% interval of +-2% (planted differences are wider) at n = 500."""
        half = 0.02 * abs(float(value)) + 1e-3
        extra = {"ci_low": float(value) - half, "ci_high": float(value) + half, "samples": 500, **extra}
        self.rows.append(
            Measurement(
                "quality",
                family,
                backend,
                dtype,
                case,
                metric,
                float(value),
                "",
                better=better,
                measured_on="cuda",
                knobs=knobs,
                **extra,
            )
        )


def llm_rows(rows: Rows) -> None:
    knobs = (("n", 1), ("new_tokens", 32))
    for backend, speed in (("eager", 1.0), ("triton", 1.6), ("sdpa", 1.3)):
        for dtype, cost in (("float32", 0.0), ("bfloat16", 0.004)):
            case = "prompt=64 new=32"
            tokens = 800 * speed * (1.4 if dtype == "bfloat16" else 1)
            rows.speed("llm", backend, dtype, case, "tokens_per_s", tokens, "tokens/s", knobs)
            rows.quality(
                "llm", backend, dtype, case, "bits_per_byte", 2.31 + cost + 0.001 * speed, "lower", knobs
            )


def serving_rows() -> list[Measurement]:
    """Latency percentiles of two engines at three request rates, as genzoo.serving writes them."""
    rows = []
    for engine, slower in (("continuous", 1.0), ("static", 1.5)):
        for rate in (2.0, 8.0, float("inf")):
            load = 1.0 if rate == 2.0 else 2.0 if rate == 8.0 else 6.0
            for metric, seconds in (
                ("ttft_p50", 0.01),
                ("ttft_p99", 0.03),
                ("tpot_p50", 0.002),
                ("itl_p99", 0.01),
            ):
                rows.append(
                    Measurement(
                        "model",
                        "llm",
                        "sdpa",
                        "float32",
                        f"{engine} rate={rate:g}/s",
                        metric,
                        seconds * slower * load,
                        "s",
                        better="lower",
                        measured_on="cuda",
                        knobs=(("engine", engine), ("request_rate", rate), ("requests", 32)),
                    )
                )
    return rows


def cost_rows() -> list[Measurement]:
    """What one sample costs: diffusion the most FLOPs, the LLM the most weight bytes."""
    figures = {
        "diffusion": (1.4e10, 8e6),
        "gan": (3.9e6, 6.8e4),
        "vae": (2.7e6, 9.8e3),
        "llm": (1.7e8, 4.2e7),
    }
    return [
        Measurement(
            "cost",
            family,
            "eager",
            "float32",
            "chosen batch=8",
            metric,
            value,
            unit,
            better="lower",
            note="per sample",
        )
        for family, (flops, weights) in figures.items()
        for metric, value, unit in (
            ("flops_per_sample", flops, "FLOP"),
            ("weight_bytes_per_sample", weights, "B"),
        )
    ]


def diffusion_rows(rows: Rows) -> None:
    points = [("ddim", steps, w) for steps in (10, 20, 50) for w in (1, 3)] + [("ddpm", 1000, 3)]
    for backend, dtype, speed in (
        ("eager", "float32", 1.0),
        ("eager", "bfloat16", 1.2),
        ("triton", "bfloat16", 1.7),
    ):
        for sampler, steps, w in points:
            case = f"{sampler} steps={steps} w={w}"
            knobs = (("n", 16), ("sampler", sampler), ("steps", steps), ("guidance_scale", float(w)))
            planted = (backend, dtype, case) == OUTSIDE_WINDOW
            window = {}  # eager float32 is the reference the others' quality is checked against
            if (backend, dtype) != ("eager", "float32"):
                change = QUALITY_CHANGE if planted else 0.01
                window = dict(quality_change=change, quality_window=0.10, within_quality_window=not planted)
            speedup = BOGUS_SPEEDUP if planted else None if backend == "eager" else speed
            images = 400 / steps * speed
            rows.speed(
                "diffusion",
                backend,
                dtype,
                case,
                "images_per_s",
                images,
                "images/s",
                knobs,
                speedup_vs_eager=speedup,
                **window,
            )
            fid = 20 - 4 * np.log10(steps) + (1.5 if w == 1 else 0) + (0.3 if backend == "triton" else 0)
            rows.quality("diffusion", backend, dtype, case, "fid", fid, "lower", knobs)
            rows.quality(
                "diffusion", backend, dtype, case, "fid_equal_n", fid + 1.0, "lower", knobs, samples=128
            )
            rows.quality("diffusion", backend, dtype, case, "precision", 0.5 + steps / 2000, "higher", knobs)
            rows.quality("diffusion", backend, dtype, case, "sharpness_ratio", 0.9, "", knobs)


def gan_rows(rows: Rows, rng: np.random.Generator) -> None:
    for backend in ("eager", "triton"):
        knobs = (("n", 64),)
        images = 3000 * (1.3 if backend == "triton" else 1)
        rows.speed("gan", backend, "float32", "batch=64", "images_per_s", images, "images/s", knobs)
        rows.quality("gan", backend, "float32", "batch=64", "fid", 25.0, "lower", knobs)
        rows.quality("gan", backend, "float32", "batch=64", "fid_equal_n", 26.0, "lower", knobs, samples=128)
        rows.quality("gan", backend, "float32", "batch=64", "sharpness_ratio", 1.1, "", knobs)
        for seed in range(5):
            seeded = (("train_seed", seed),)
            fid = 25 + rng.normal(0, 2.0)
            rows.quality(
                "gan",
                backend,
                "float32",
                f"seed={seed}",
                "fid",
                fid,
                "lower",
                seeded,
                ci_low=fid - 0.3,
                ci_high=fid + 0.3,
            )
            rows.quality(
                "gan",
                backend,
                "float32",
                f"seed={seed}",
                "recall",
                0.4 + rng.normal(0, 0.03),
                "higher",
                seeded,
            )
    rows.quality("gan", "eager", "float32", "latent interpolations", "latent_path_ratio", 1.8, "lower", ())


def vae_rows(rows: Rows) -> None:
    knobs = (("n", 16),)
    for backend, dtype, speed in (
        ("eager", "float32", 1.0),
        ("triton", "float32", 1.2),
        ("compile", "float32", 1.1),
    ):
        on_cpu = (backend, dtype, "latent=16") == OTHER_DEVICE
        extra = dict(measured_on="cpu", speedup_vs_eager=BOGUS_SPEEDUP) if on_cpu else {}
        rows.speed(
            "vae", backend, dtype, "latent=16", "images_per_s", 5000 * speed, "images/s", knobs, **extra
        )
        rows.quality("vae", backend, dtype, "latent=16", "fid", 60.0 + speed, "lower", knobs)
        rows.quality(
            "vae", backend, dtype, "latent=16", "fid_equal_n", 61.0 + speed, "lower", knobs, samples=128
        )
        rows.quality("vae", backend, dtype, "latent=16", "elbo", -95.0 - speed, "higher", knobs)
        rows.quality("vae", backend, dtype, "latent=16", "sharpness_ratio", 0.4, "", knobs)
    rows.quality("vae", "eager", "float32", "latent interpolations", "latent_path_ratio", 1.2, "lower", ())
    for seed, fid in enumerate((61.0, 61.2, 60.9)):  # as steady as its sampling noise
        rows.quality("vae", "eager", "float32", f"seed={seed}", "fid", fid, "lower", (("train_seed", seed),))
    # an interpreted sweep point: its throughput must not reach any speed axis
    rows.speed(
        "vae",
        "triton",
        "bfloat16",
        "latent=16",
        "images_per_s",
        99999.0,
        "images/s",
        knobs,
        interpreted=True,
        speedup_vs_eager=BOGUS_SPEEDUP,
    )
    rows.quality("vae", "triton", "bfloat16", "latent=16", "fid", 61.0, "lower", knobs, interpreted=True)


def training_rows() -> list[Measurement]:
    common = dict(kind="training", backend="eager", dtype="float32", measured_on="cuda")
    rows = []
    for family in ("diffusion", "gan", "llm", "vae"):
        knobs = (("train_seed", 0),)
        rows.append(
            Measurement(
                subject=family,
                case="seed=0",
                metric="train_seconds",
                value=60.0,
                unit="s",
                better="lower",
                knobs=knobs,
                **common,
            )
        )
        rows.append(
            Measurement(
                subject=family,
                case="seed=0",
                metric="train_steps",
                value=1000.0,
                unit="steps",
                knobs=knobs,
                **common,
            )
        )
    return rows


def family_rows(rng: np.random.Generator) -> list[Measurement]:
    rows = Rows()
    llm_rows(rows)
    diffusion_rows(rows)
    gan_rows(rows, rng)
    vae_rows(rows)
    return rows.rows + training_rows() + serving_rows() + cost_rows()


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

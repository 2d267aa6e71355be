"""Which points a sweep visits: the family's own plan, x dtypes, backends and batch sizes."""

from __future__ import annotations

from genzoo.models import protocol
from genzoo.sweeps import plan


def test_the_diffusion_plan_has_a_ddpm_baseline_ddim_steps_and_a_guidance_sweep():
    family = protocol.get("diffusion")
    points = plan.points(family, "cpu", ("eager", "compile", "triton"))
    quality = [p.knob_dict for p in points if p.quality and p.backend == "eager" and p.dtype == "float32"]
    ddpm = [{k: q[k] for k in ("steps", "guidance_scale")} for q in quality if q["sampler"] == "ddpm"]
    assert ddpm == [{"steps": 1000, "guidance_scale": 1.0}]  # beside DDIM's unguided curve
    ddim_steps = {q["steps"] for q in quality if q["sampler"] == "ddim" and q["guidance_scale"] == 2.0}
    assert ddim_steps == {100, 50, 20, 10}
    assert {q["guidance_scale"] for q in quality} == {1.0, 2.0, 4.0}
    assert points[0].backend == "eager" and points[0].dtype == "float32"
    assert {p.backend for p in points} == {"eager", "compile", "triton"}
    assert len(set(points)) == len(points)


def test_batch_points_measure_speed_only_and_name_the_batch():
    points = plan.points(protocol.get("gan"), "cpu", ("eager",))
    batch_points = [p for p in points if not p.quality]
    assert [p.knob_dict["n"] for p in batch_points] == list(plan.SETTINGS["cpu"].batch_sizes)
    assert all(p.case.startswith("batch=") for p in batch_points)
    assert all("batch=" not in p.case for p in points if p.quality)


def test_backends_a_family_does_not_have_are_left_out():
    points = plan.points(protocol.get("gan"), "cpu", ("eager", "sdpa", "triton", "compile"))
    assert {p.backend for p in points} == {"eager", "compile"}


def test_every_preset_fits_every_family():
    """The tiny preset's LLM has a 48-byte context: its plan asks for what fits."""
    for name in protocol.names():
        family = protocol.get(name)
        for preset in protocol.PRESETS:
            for point in plan.points(family, preset, ("eager",)):
                knobs = point.knob_dict
                if "new_tokens" in knobs:
                    assert knobs["new_tokens"] + len(b"def ") <= family.config(preset).context


def test_the_quick_preset_leaves_out_the_variant_points_and_compiled_models_but_keeps_dtypes_and_batches():
    family = protocol.get("diffusion")
    quick = plan.points(family, "quick", ("eager", "compile", "sdpa"))  # compile: left to the cpu preset
    reference = {"n": plan.SETTINGS["quick"].batch, **family.sweep_plan("quick").reference}
    quality = [p for p in quick if p.quality]
    assert {p.knobs for p in quality} == {tuple(sorted(reference.items()))}  # no DDPM, no DDIM curve
    assert {(p.backend, p.dtype) for p in quality} == {
        ("eager", "float32"),
        ("eager", "bfloat16"),
        ("sdpa", "float32"),
    }
    batches = [p.knob_dict["n"] for p in quick if not p.quality]
    assert batches == list(plan.SETTINGS["quick"].batch_sizes)
    assert len(plan.points(family, "cpu", ("eager",))) > len(plan.points(family, "quick", ("eager",)))


def test_every_family_trains_one_seed_in_the_quick_preset_and_three_in_the_cpu_preset():
    for name in protocol.names():
        family = protocol.get(name)
        assert family.config("quick").extra_seeds == ()
        if family.unit == "images":  # instability is the spread over >= 3 training seeds
            assert len(family.config("cpu").extra_seeds) >= 2

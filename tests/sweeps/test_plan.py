from genzoo.sweeps import plan


def test_diffusion_plan_has_ddpm_baseline_ddim_steps_and_guidance_sweep():
    settings = plan.SETTINGS["cpu"]
    points = plan.points("diffusion", settings, ("eager", "compile", "triton"), ("eager", "compile", "triton", "sdpa"))
    quality_cases = {p.case for p in points if p.quality and p.backend == "eager" and p.dtype == "float32"}
    assert "sampler=ddpm steps=1000 w=2 eta=0" in {" ".join(sorted(c.split())) and c for c in quality_cases} or any(
        "sampler=ddpm" in c and "steps=1000" in c for c in quality_cases
    )
    for steps in settings.ddim_steps:
        assert any("sampler=ddim" in c and f"steps={steps} " in c + " " and "w=2" in c for c in quality_cases)
    assert {w for w in settings.guidance_scales} <= {float(c.split("w=")[1].split()[0]) for c in quality_cases}
    assert points[0].backend == "eager" and points[0].dtype == "float32"
    assert {p.backend for p in points} == {"eager", "compile", "triton"}


def test_batch_points_measure_speed_only_and_name_the_batch():
    points = plan.points("gan", plan.SETTINGS["cpu"], ("eager",), ("eager", "compile"))
    batch_points = [p for p in points if not p.quality]
    assert [p.knob_dict["n"] for p in batch_points] == list(plan.SETTINGS["cpu"].batch_sizes)
    assert all(p.case.startswith("batch=") for p in batch_points)
    assert all("batch=" not in p.case for p in points if p.quality)


def test_backends_a_family_does_not_use_are_left_out():
    points = plan.points("gan", plan.SETTINGS["cpu"], ("eager", "sdpa", "triton"), ("eager", "compile"))
    assert {p.backend for p in points} == {"eager"}

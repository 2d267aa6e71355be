"""``genzoo train``: trains what is missing, reuses what is cached, writes previews on request."""

from __future__ import annotations

from genzoo import cli


def test_train_command_trains_then_reuses_and_writes_previews(tmp_path, capsys):
    cache, samples = tmp_path / "cache", tmp_path / "samples"
    argv = ["train", "vae", "gan", "--preset", "tiny", "--cache-dir", str(cache), "--quiet"]
    assert cli.main([*argv, "--samples-dir", str(samples)]) == 0
    out = capsys.readouterr().out
    assert "vae tiny seed 0: test_elbo=" in out and "trained now" in out
    assert sorted(p.name for p in cache.iterdir()) == ["gan-tiny-seed0.pt", "vae-tiny-seed0.pt"]
    assert sorted(p.name for p in samples.iterdir()) == ["gan.png", "vae.png"]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "trained now" not in out and out.count("from the cache") == 2


def test_train_command_refuses_unknown_families(tmp_path, capsys):
    assert cli.main(["train", "transformer", "--preset", "tiny", "--cache-dir", str(tmp_path)]) == 2
    assert "unknown families ['transformer']" in capsys.readouterr().out

import pandas as pd

from genzoo.measurement import Measurement, to_frame
from genzoo.report import claims


def _rows(family, fid, speed, sharpness, unit="images"):
    common = dict(backend="eager", dtype="float32", case="default")
    return [
        Measurement("sweep", family, metric=f"{unit}_per_s", value=speed, unit=f"{unit}/s", **common),
        Measurement("quality", family, metric="fid", value=fid, unit="", **common),
        Measurement("quality", family, metric="sharpness_ratio", value=sharpness, unit="", **common),
    ]


def test_claims_are_answered_from_the_numbers_either_way():
    frame = to_frame(_rows("diffusion", 5.0, 2.0, 0.9) + _rows("gan", 20.0, 900.0, 1.1) + _rows("vae", 40.0, 800.0, 0.4)
                     + [Measurement("quality", "gan", "eager", "float32", "seeds=3", "fid_seed_cv", 0.3, "")])
    sentences = claims.claims(frame)
    assert any("'diffusion: best quality, slowest' holds" in s for s in sentences)
    assert any("fastest family is gan" in s and "0.30" in s for s in sentences)
    assert any("0.40x" in s and "the least" in s for s in sentences)

    reversed_frame = to_frame(_rows("diffusion", 50.0, 2.0, 0.9) + _rows("gan", 20.0, 900.0, 1.1))
    assert any("does not hold" in s for s in claims.claims(reversed_frame))


def test_cross_family_table_takes_each_familys_best_quality_point():
    rows = _rows("vae", 40.0, 800.0, 0.4) + [
        Measurement("sweep", "vae", "eager", "float32", "batch=64", "images_per_s", 5000.0, "images/s"),
        Measurement("quality", "vae", "eager", "bfloat16", "default", "fid", 10.0, ""),
    ]
    table = claims.cross_family_table(to_frame(rows))
    assert table.to_dict("records")[0]["fid"] == 40.0 and table.to_dict("records")[0]["throughput"] == 800.0
    assert claims.cross_family_table(pd.DataFrame(columns=to_frame([]).columns)).empty

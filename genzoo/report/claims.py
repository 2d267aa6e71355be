"""The cross-family comparison, and the folk claims about the families, tested on the data.

Claims under test (each answered from the rows of one run, whatever the answer is):
1. diffusion gives the best quality but is the slowest to sample;
2. GANs are the fastest and realistic, but unstable to train (FID and losses vary across seeds);
3. VAEs are smooth (straight latent paths) but blurry (less high-frequency energy than real data).
"""

from __future__ import annotations

import pandas as pd

IMAGE_FAMILIES = ("diffusion", "gan", "vae")
BEST_POINT_COLUMNS = ("fid", "precision", "recall", "sharpness_ratio", "bits_per_byte")


def _eager_points(frame: pd.DataFrame) -> pd.DataFrame:
    """Speed and quality of eager float32 points, one line per (family, case)."""
    rows = frame[(frame["backend"] == "eager") & (frame["dtype"] == "float32") & frame["kind"].isin(["sweep", "quality"])]
    wide = rows.pivot_table(index=["subject", "case"], columns="metric", values="value", aggfunc="first")
    speed = wide.get("images_per_s", pd.Series(dtype=float)).fillna(wide.get("tokens_per_s", pd.Series(dtype=float)))
    return wide.assign(throughput=speed).reset_index()


def cross_family_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Each family's best-quality point (lowest FID, or bits per byte for the LLM), with its
    throughput, on the same data and machine."""
    points = _eager_points(frame)
    best = []
    for family, group in points.groupby("subject"):
        headline = "fid" if "fid" in group and group["fid"].notna().any() else "bits_per_byte"
        group = group[group[headline].notna() & group["throughput"].notna()] if headline in group else group.iloc[0:0]
        if group.empty:
            continue
        row = group.loc[group[headline].idxmin()]
        record = {"family": family, "case": row["case"], "throughput": row["throughput"],
                  "unit": "tokens/s" if family == "llm" else "images/s"}  # fmt: skip
        record.update({column: row.get(column) for column in BEST_POINT_COLUMNS if column in row})
        best.append(record)
    return pd.DataFrame(best)


def _value(frame: pd.DataFrame, family: str, metric: str) -> float | None:
    rows = frame[(frame["subject"] == family) & (frame["metric"] == metric)]
    return None if rows.empty else float(rows["value"].iloc[0])


def claims(frame: pd.DataFrame) -> list[str]:
    """One sentence per claim that the data can answer: what was measured, and whether it holds."""
    best = cross_family_table(frame)
    images = best[best["family"].isin(IMAGE_FAMILIES)].set_index("family") if not best.empty else best
    sentences = []
    if len(images) >= 2 and "diffusion" in images.index:
        best_quality = images["fid"].idxmin()
        slowest = images["throughput"].idxmin()
        holds = best_quality == "diffusion" and slowest == "diffusion"
        sentences.append(
            f"Claim 'diffusion: best quality, slowest' {'holds' if holds else 'does not hold'} here: best FID "
            f"{best_quality} ({images.loc[best_quality, 'fid']:.3g}), slowest {slowest} "
            f"({images.loc[slowest, 'throughput']:.3g} images/s at its best-quality point)."
        )
    if len(images) >= 2 and "gan" in images.index:
        fastest = images["throughput"].idxmax()
        cv = _value(frame, "gan", "fid_seed_cv")
        spread = f"FID varies across training seeds by a coefficient of variation of {cv:.2f}" if cv is not None else "no seed spread measured"
        sentences.append(
            f"Claim 'GANs: fastest, realistic, unstable': fastest family is {fastest}; GAN FID "
            f"{images.loc['gan', 'fid']:.3g}; {spread}."
        )
    if "vae" in images.index:
        sharpness = images.loc["vae", "sharpness_ratio"] if "sharpness_ratio" in images else None
        path = _value(frame, "vae", "latent_path_ratio")
        others = images.drop(index="vae")["sharpness_ratio"] if "sharpness_ratio" in images else pd.Series(dtype=float)
        if sharpness is not None and pd.notna(sharpness):
            blurriest = others.empty or sharpness < others.min()
            sentences.append(
                f"Claim 'VAEs: smooth but blurry': VAE samples keep {sharpness:.2f}x the high-frequency energy of "
                f"real digits ({'the least' if blurriest else 'not the least'} of the image families)"
                + (f"; latent paths are {path:.2f}x the straight-line distance in feature space." if path is not None else ".")
            )
    return sentences

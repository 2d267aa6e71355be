"""The folk claims about the families, tested on the data.

Each family declares its claims (``genzoo.models.protocol.Claim``: a text and the names of the
predicates that must all hold); this module holds the predicates, each judged from the rows of
one machine against the other families present, and answers every claim of every installed
family in the table with one sentence: holds, does not hold, or cannot be tested, with the
numbers behind it. A family this install does not know has no claims to test.

Predicates compare families at their best points (``genzoo.report.cross_family``), among the
families scored by the same headline metric (and, for speeds, counting the same unit):
- ``best_quality``: the best headline metric; ``slowest`` / ``fastest``: the lowest / highest
  throughput there;
- ``unstable``: the spread of the headline metric over training seeds (``<headline>_seed_cv``)
  exceeds the family's own quality window, the change that still counts as the same model;
- ``smooth``: decoded latent interpolations (``latent_path_ratio``) run at most
  ``SMOOTH_PATH_RATIO`` times the straight-line distance in feature space;
- ``blurriest``: the lowest ``sharpness_ratio`` (high-frequency energy against real data) at
  the best points of all families that measured one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pandas as pd

from genzoo.models import protocol
from genzoo.report.analysis import families, model_rows
from genzoo.report.cross_family import best_points

# a detour of half the straight distance is still a morph between the endpoints; more is a path
# through what the decoder makes of holes in its latent space (genzoo.quality.latent_smoothness)
SMOOTH_PATH_RATIO = 1.5

# the rows behind a claim carry no intervals yet: a verdict from point estimates is no test
POINT_ESTIMATES_CAVEAT = "(Point estimates, no intervals at this N: not significance-tested.)"


@dataclasses.dataclass(frozen=True)
class Verdict:
    holds: bool | None  # None: the rows cannot answer it
    evidence: str


@dataclasses.dataclass(frozen=True)
class Evidence:
    """What the predicates read: one machine's model rows and every family's best point there."""

    rows: pd.DataFrame
    best: pd.DataFrame  # ``best_points``, indexed by family

    def value(self, family: str, metric: str, case: str | None = None) -> float | None:
        """An eager float32 row's value of ``family`` (at ``case``, where given), if measured."""
        rows = self.rows
        rows = rows[
            (rows["subject"] == family)
            & (rows["metric"] == metric)
            & (rows["backend"] == "eager")
            & (rows["dtype"] == "float32")
        ]
        if case is not None:
            rows = rows[rows["case"] == case]
        return None if rows.empty else float(rows["value"].iloc[0])


def _peers(evidence: Evidence, name: str, same_unit: bool = False) -> pd.DataFrame | str:
    """The best points of the families scored like ``name`` (the reason, where too few are)."""
    if name not in evidence.best.index:
        return f"{name} has no eager float32 point with both its headline metric and a throughput"
    own = evidence.best.loc[name]
    peers = evidence.best[evidence.best["metric"] == own["metric"]]
    if same_unit:
        peers = peers[peers["unit"] == own["unit"]]
    if len(peers) < 2:
        return f"no other family here is scored by {own['metric']}" + (
            f" and counts {own['unit']}" if same_unit else ""
        )
    return peers


def _listing(values: pd.Series, unit: str = "") -> str:
    return ", ".join(f"{family} {value:.3g}{f' {unit}' if unit else ''}" for family, value in values.items())


def best_quality(evidence: Evidence, name: str) -> Verdict:
    peers = _peers(evidence, name)
    if isinstance(peers, str):
        return Verdict(None, peers)
    metric, lower = peers["metric"].iloc[0], peers["better"].iloc[0] == "lower"
    winner = peers["quality"].idxmin() if lower else peers["quality"].idxmax()
    ranked = peers["quality"].sort_values(ascending=lower)
    return Verdict(winner == name, f"best {metric} is {winner}'s ({_listing(ranked)})")


def _throughput_rank(evidence: Evidence, name: str, slowest: bool) -> Verdict:
    peers = _peers(evidence, name, same_unit=True)
    if isinstance(peers, str):
        return Verdict(None, peers)
    winner = peers["throughput"].idxmin() if slowest else peers["throughput"].idxmax()
    ranked = peers["throughput"].sort_values(ascending=slowest)
    word = "slowest" if slowest else "fastest"
    return Verdict(
        winner == name, f"{word} is {winner} ({_listing(ranked, peers['unit'].iloc[0])} at their best points)"
    )


def slowest(evidence: Evidence, name: str) -> Verdict:
    return _throughput_rank(evidence, name, slowest=True)


def fastest(evidence: Evidence, name: str) -> Verdict:
    return _throughput_rank(evidence, name, slowest=False)


def unstable(evidence: Evidence, name: str) -> Verdict:
    headline = protocol.get(name).headline
    metric = f"{headline.metric}_seed_cv"
    cv = evidence.value(name, metric)
    if cv is None:
        return Verdict(None, f"no {metric} row (the spread of {headline.metric} over training seeds)")
    holds = cv > headline.window
    side = "above" if holds else "within"
    spread = f"{headline.metric} varies over training seeds by a coefficient of variation of {cv:.3g}"
    return Verdict(holds, f"{spread}, {side} the {headline.window:.3g} that counts as the same model")


def smooth(evidence: Evidence, name: str) -> Verdict:
    ratio = evidence.value(name, "latent_path_ratio")
    if ratio is None:
        return Verdict(None, "no latent_path_ratio row (decoded latent interpolations)")
    holds = ratio <= SMOOTH_PATH_RATIO
    return Verdict(
        holds,
        f"latent paths run {ratio:.2f}x the straight-line distance in feature space "
        f"(at most {SMOOTH_PATH_RATIO:g}x counts as smooth)",
    )


def blurriest(evidence: Evidence, name: str) -> Verdict:
    sharpness = pd.Series(
        {
            family: evidence.value(family, "sharpness_ratio", point["case"])
            for family, point in evidence.best.iterrows()
        },
        dtype=float,
    ).dropna()
    if name not in sharpness.index or len(sharpness) < 2:
        return Verdict(
            None,
            "fewer than two families, this one among them, measured sharpness_ratio at their best points",
        )
    least = sharpness.idxmin()
    return Verdict(
        least == name,
        f"least high-frequency energy against real data is {least}'s "
        f"(sharpness_ratio {_listing(sharpness.sort_values())})",
    )


PREDICATES: dict[str, Callable[[Evidence, str], Verdict]] = {
    "best_quality": best_quality,
    "slowest": slowest,
    "fastest": fastest,
    "unstable": unstable,
    "smooth": smooth,
    "blurriest": blurriest,
}


def judge(claim: protocol.Claim, evidence: Evidence, name: str) -> Verdict:
    """All of the claim's predicates: holds if each does, does not if any fails, else untested."""
    verdicts = []
    for predicate in claim.predicates:
        if predicate not in PREDICATES:
            verdicts.append(Verdict(None, f"no predicate {predicate!r} in genzoo.report.claims"))
        else:
            verdicts.append(PREDICATES[predicate](evidence, name))
    answers = [verdict.holds for verdict in verdicts]
    holds = False if False in answers else None if None in answers else True
    return Verdict(holds, "; ".join(verdict.evidence for verdict in verdicts))


def claims(frame: pd.DataFrame) -> list[str]:
    """One sentence per claim of each installed family in the table (per machine, where several)."""
    rows = model_rows(frame)
    known = families(rows["subject"])
    machines = sorted(rows["machine"].unique())
    best = best_points(frame)
    sentences = []
    for machine in machines:
        mine = rows[rows["machine"] == machine]
        evidence = Evidence(mine, best[best["machine"] == machine].set_index("family"))
        where = f" on {machine}" if len(machines) > 1 else ""
        for name, family in known.items():
            if not (mine["subject"] == name).any():
                continue
            for claim in family.claims:
                verdict = judge(claim, evidence, name)
                answer = {True: "holds", False: "does not hold", None: "cannot be tested"}[verdict.holds]
                sentences.append(
                    f"Claim '{claim.text}' {answer}{where}: {verdict.evidence}. {POINT_ESTIMATES_CAVEAT}"
                )
    return sentences

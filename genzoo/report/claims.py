"""The folk claims about the families, tested on the data: each gets *holds*, *does not hold* or
*not resolved at this N*, decided by the intervals of the differences behind it, or *cannot be
tested* where the rows lack what it needs.

Each family declares its claims (``genzoo.models.protocol.Claim``: a text and the names of the
predicates that must all hold); each predicate is judged from the rows of one machine against the
other families present there, at their best points (``genzoo.report.cross_family``: chosen on one
set of sampling seeds, reported on fresh ones), among the families scored by the same metric at
the same n. A difference of two figures is judged by ``genzoo.stats.verdicts.compare_intervals``:
the normal-theory interval of a - b from the rows' own 95% intervals, taken as independent
(conservative for figures that share the reference). A claim over several families holds when it
holds against each of them.

- ``best_quality``: the best headline metric (at the equal n), against every peer;
- ``slowest`` / ``fastest``: the lowest / highest throughput, by the spread of the timed rounds
  (p20-p80) not overlapping any peer's (a timing has rounds, not an interval of a mean);
- ``unstable``: the spread of the headline over training seeds beyond its sampling spread,
  r = s_seeds / s_sampling (1 when training adds nothing to sampling noise; s_sampling from each
  seed's interval), larger than every peer's: the ratio r_a / r_b with the normal-theory F interval
  (``verdicts.compare_spreads``, the sampling spreads taken as known);
- ``smooth``: decoded latent interpolations (``latent_path_ratio``, 1 = straight) straighter than
  every peer's that measured them the same way;
- ``blurriest``: the lowest ``sharpness_ratio`` (high-frequency energy against real digits) at the
  best points, against every peer;
- ``most_flops_per_sample`` / ``most_bytes_per_sample``: the most FLOPs / weight bytes moved per
  generated sample (per image, per completion) of all families, at one batch size; counted, so exact;
- ``hallucinates``: a code model's completions parse less often, or use more names defined
  nowhere, than the real held-out continuations, beyond the intervals.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import pandas as pd

from genzoo.models import protocol
from genzoo.report.analysis import families, model_rows
from genzoo.report.cross_family import best_points
from genzoo.results import format_value
from genzoo.results.schema import REAL_CODE_ANCHOR, RENAMED_CODE_ANCHOR, SHUFFLED_CODE_ANCHOR
from genzoo.stats.interval import Interval
from genzoo.stats.verdicts import compare_intervals, compare_spreads

HALLUCINATION_CEILINGS = {"parse_share": SHUFFLED_CODE_ANCHOR, "undefined_name_share": RENAMED_CODE_ANCHOR}
HOLDS, FAILS, UNRESOLVED, UNTESTED = "holds", "does not hold", "not resolved at this N", "cannot be tested"
Z95 = 1.959963984540054  # the standard normal's 97.5% point: a 95% interval is +-Z95 standard errors


@dataclasses.dataclass(frozen=True)
class Verdict:
    status: str  # HOLDS, FAILS, UNRESOLVED or UNTESTED
    evidence: str


@dataclasses.dataclass(frozen=True)
class ClaimResult:
    family: str
    claim: str
    status: str
    evidence: str
    machine: str


@dataclasses.dataclass(frozen=True)
class Evidence:
    """What the predicates read: one machine's model rows and every family's best point there."""

    rows: pd.DataFrame
    best: pd.DataFrame  # ``best_points``, indexed by family
    costs: pd.DataFrame  # kind "cost" rows: what one sample costs, counted

    def anchor(self, subject: str, metric: str) -> Interval | None:
        rows = self.rows[(self.rows["subject"] == subject) & (self.rows["metric"] == metric)]
        return None if rows.empty else _interval(rows.iloc[0])

    def eager(self, family: str, metric: str) -> pd.DataFrame:
        rows = self.rows
        return rows[
            (rows["subject"] == family)
            & (rows["metric"] == metric)
            & (rows["backend"] == "eager")
            & (rows["dtype"] == "float32")
            & (rows["kind"] == "quality")
        ]

    def interval(self, family: str, metric: str, case: str | None = None) -> Interval | None:
        """The eager float32 row's figure with its interval (at ``case``, where given), if both exist."""
        rows = self.eager(family, metric)
        if case is not None:
            rows = rows[rows["case"] == case]
        return None if rows.empty else _interval(rows.iloc[0])


def _interval(row: pd.Series) -> Interval | None:
    low, high = row.get("ci_low"), row.get("ci_high")
    if low is None or high is None or pd.isna(low) or pd.isna(high):
        return None
    samples = row.get("samples")
    n = int(samples) if samples is not None and not pd.isna(samples) else 0
    return Interval(float(row["value"]), float(low), float(high), 0.95, n, 0, "row")


def _figure(interval: Interval) -> str:
    return f"{format_value(interval.estimate)} [{format_value(interval.low)}, {format_value(interval.high)}]"


def _combine(verdicts: list[Verdict]) -> Verdict:
    """Against every peer: fails if any fails, untested if any is, unresolved if any is, else holds."""
    statuses = [v.status for v in verdicts]
    for status in (FAILS, UNTESTED, UNRESOLVED):
        if status in statuses:
            break
    else:
        status = HOLDS
    return Verdict(status, "; ".join(v.evidence for v in verdicts))


def _against_peers(
    name: str, figures: dict[str, Interval], better: str, what: str, equal_n: bool = True
) -> Verdict:
    """ "``name``'s figure is better than each peer's", each by the interval of the difference."""
    if name not in figures:
        return Verdict(UNTESTED, f"{name} has no {what} with an interval")
    peers = {family: figure for family, figure in figures.items() if family != name}
    if not peers:
        return Verdict(UNTESTED, f"no other family here has a {what} with an interval")
    own, verdicts = figures[name], []
    for peer, figure in sorted(peers.items()):
        if equal_n and own.n != figure.n:
            verdicts.append(
                Verdict(UNTESTED, f"{name} and {peer} have their {what} at n={own.n} and n={figure.n}")
            )
            continue
        compared = compare_intervals(own, figure, better=better)
        effect = compared.effect
        verdicts.append(
            Verdict(
                compared.status,
                f"{name} {_figure(own)} vs {peer} {_figure(figure)}, difference {_figure(effect)} "
                + (f"(n={own.n})" if own.n == figure.n else f"(n={own.n} and {figure.n})"),
            )
        )
    return _combine(verdicts)


def _peer_best(evidence: Evidence, name: str) -> pd.DataFrame | str:
    """The best points of the families scored by the same metric as ``name`` (why not, where none)."""
    if name not in evidence.best.index:
        return f"{name} has no eager float32 point with both its headline metric and a throughput"
    own = evidence.best.loc[name]
    return evidence.best[evidence.best["metric"] == own["metric"]]


def best_quality(evidence: Evidence, name: str) -> Verdict:
    peers = _peer_best(evidence, name)
    if isinstance(peers, str):
        return Verdict(UNTESTED, peers)
    figures = {family: _interval(_best_as_row(point)) for family, point in peers.iterrows()}
    figures = {family: figure for family, figure in figures.items() if figure is not None}
    metric, better = peers.loc[name, "metric"], peers.loc[name, "better"]
    verdict = _against_peers(name, figures, better, f"{metric} at its best point")
    seeds = ", ".join(
        f"{family} {point['case']!r} of {point['candidates']}, "
        + (
            f"reported on fresh seeds {point['seeds']}"
            if point["confirmed"]
            else "chosen and reported on one seed set"
        )
        for family, point in peers.iterrows()
    )
    return Verdict(verdict.status, f"{verdict.evidence} ({seeds})")


def _best_as_row(point: pd.Series) -> pd.Series:
    return pd.Series(
        {
            "value": point["quality"],
            "ci_low": point["quality_low"],
            "ci_high": point["quality_high"],
            "samples": point["samples"],
        }
    )


def _throughput_rank(evidence: Evidence, name: str, slowest: bool) -> Verdict:
    peers = _peer_best(evidence, name)
    if isinstance(peers, str):
        return Verdict(UNTESTED, peers)
    peers = peers[peers["unit"] == peers.loc[name, "unit"]]
    if len(peers) < 2:
        return Verdict(UNTESTED, f"no other family here counts {peers.loc[name, 'unit']}")
    own, verdicts, word = peers.loc[name], [], "slower" if slowest else "faster"
    for peer, point in peers.drop(index=name).iterrows():
        low, high = (own["throughput_low"], own["throughput_high"])
        if slowest:
            status = (
                HOLDS
                if high < point["throughput_low"]
                else FAILS
                if point["throughput_high"] < low
                else UNRESOLVED
            )
        else:
            status = (
                HOLDS
                if low > point["throughput_high"]
                else FAILS
                if point["throughput_low"] > high
                else UNRESOLVED
            )
        ratio = own["throughput"] / point["throughput"]
        verdicts.append(
            Verdict(
                status,
                f"{name} {format_value(own['throughput'])} vs {peer} {format_value(point['throughput'])} "
                f"{own['unit']} ({format_value(ratio)}x; {word} wanted)",
            )
        )
    return _combine(verdicts)


def slowest(evidence: Evidence, name: str) -> Verdict:
    return _throughput_rank(evidence, name, slowest=True)


def fastest(evidence: Evidence, name: str) -> Verdict:
    return _throughput_rank(evidence, name, slowest=False)


@dataclasses.dataclass(frozen=True)
class SeedSpread:
    values: tuple[float, ...]  # the headline per training seed, on the same sampling seeds
    sampling_error: float  # root mean square of the seeds' standard errors (from their intervals)
    collapse: str  # per seed: missing classes and coverage

    @property
    def ratio(self) -> float:
        spread = pd.Series(self.values).std(ddof=1)
        return spread / self.sampling_error if self.sampling_error > 0 else math.inf


def seed_spread(evidence: Evidence, family: protocol.Family) -> SeedSpread | None:
    rows = evidence.eager(family.name, family.headline.metric)
    if "knob_train_seed" not in rows:
        return None
    rows = rows[rows["knob_train_seed"].notna()].sort_values("knob_train_seed")
    intervals = [_interval(row) for _, row in rows.iterrows()]
    if len(rows) < 2 or None in intervals:
        return None
    errors = [interval.width / (2 * Z95) for interval in intervals]
    collapse = []
    for case, seed in zip(rows["case"], rows["knob_train_seed"]):
        missing = evidence.interval(family.name, "missing_classes", case)
        coverage = evidence.interval(family.name, "coverage", case)
        if missing is not None and coverage is not None:
            collapse.append(
                f"seed {seed:g}: {missing.estimate:g} classes missing, coverage {coverage.estimate:.2f}"
            )
    rms = math.sqrt(sum(e * e for e in errors) / len(errors))
    return SeedSpread(tuple(float(v) for v in rows["value"]), rms, "; ".join(collapse))


def unstable(evidence: Evidence, name: str) -> Verdict:
    known = families(evidence.rows["subject"])
    spreads = {family: seed_spread(evidence, spec) for family, spec in known.items()}
    spreads = {family: spread for family, spread in spreads.items() if spread is not None}
    metric = known[name].headline.metric if name in known else "headline"
    if name not in spreads:
        return Verdict(UNTESTED, f"{name} has no {metric} per training seed with intervals")
    peers = {family: spread for family, spread in spreads.items() if family != name}
    if not peers:
        return Verdict(UNTESTED, f"no other family here has its {metric} per training seed")
    own, verdicts = spreads[name], []
    for peer, spread in sorted(peers.items()):
        if own.sampling_error <= 0 or spread.sampling_error <= 0:
            verdicts.append(Verdict(UNTESTED, f"{name} or {peer} has no sampling spread"))
            continue
        # (s_a / s_b) / (e_a / e_b) = r_a / r_b: the F interval of s_a / s_b, scaled by e_b / e_a
        spreads_verdict = compare_spreads(own.values, spread.values, better="higher")
        scale = spread.sampling_error / own.sampling_error
        effect = spreads_verdict.effect
        low, high = effect.low * scale, effect.high * scale
        status = HOLDS if low > 1 else FAILS if high < 1 else UNRESOLVED
        verdicts.append(
            Verdict(
                status,
                f"training-seed spread over sampling spread {name} {own.ratio:.2f} ({len(own.values)} seeds) "
                f"vs {peer} {spread.ratio:.2f} ({len(spread.values)} seeds), ratio {own.ratio / spread.ratio:.2f} "
                f"[{low:.2f}, {high:.2f}]",
            )
        )
    combined = _combine(verdicts)
    collapse = f"; collapse per seed: {own.collapse}" if own.collapse else ""
    return Verdict(combined.status, combined.evidence + collapse)


def smooth(evidence: Evidence, name: str) -> Verdict:
    figures = {
        family: evidence.interval(family, "latent_path_ratio")
        for family in families(evidence.rows["subject"])
    }
    figures = {family: figure for family, figure in figures.items() if figure is not None}
    return _against_peers(name, figures, "lower", "latent_path_ratio (1 = straight)", equal_n=False)


def blurriest(evidence: Evidence, name: str) -> Verdict:
    figures = {
        family: evidence.interval(family, "sharpness_ratio", point["reported_case"])
        for family, point in evidence.best.iterrows()
    }
    figures = {family: figure for family, figure in figures.items() if figure is not None}
    # a mean over images (each one's high-frequency energy over the reference's mean): unlike FID
    # its expected value does not move with n, only its interval's width, so it compares across n
    return _against_peers(
        name,
        figures,
        "lower",
        "sharpness_ratio at its best point (1 = as sharp as real digits)",
        equal_n=False,
    )


def _most_per_sample(evidence: Evidence, name: str, metric: str, what: str) -> Verdict:
    """Counted, not sampled (FLOPs and bytes of one call): the largest figure holds without an interval."""
    rows = evidence.costs[evidence.costs["metric"] == metric]
    figures = dict(zip(rows["subject"], rows["value"]))
    if name not in figures or len(figures) < 2:
        return Verdict(UNTESTED, f"fewer than two families, {name} among them, counted {metric}")
    ranked = sorted(figures.items(), key=lambda item: -item[1])
    listing = ", ".join(f"{family} {format_value(value)}" for family, value in ranked)
    status = HOLDS if ranked[0][0] == name else FAILS
    return Verdict(status, f"most {what} per sample is {ranked[0][0]}'s ({listing}; counted, exact)")


def most_flops_per_sample(evidence: Evidence, name: str) -> Verdict:
    return _most_per_sample(evidence, name, "flops_per_sample", "FLOPs")


def most_bytes_per_sample(evidence: Evidence, name: str) -> Verdict:
    return _most_per_sample(evidence, name, "weight_bytes_per_sample", "weight bytes moved")


def hallucinates(evidence: Evidence, name: str) -> Verdict:
    """Completions that are less often valid code (parse share) or use more names defined nowhere
    (undefined-name share) than the real held-out continuations, beyond the intervals: holds if
    either does, does not hold if both are resolved the other way or as equal-or-better."""
    verdicts = []
    for metric, worse in (("parse_share", "lower"), ("undefined_name_share", "higher")):
        own, floor = evidence.anchor(name, metric), evidence.anchor(REAL_CODE_ANCHOR, metric)
        if own is None or floor is None:
            verdicts.append(
                Verdict(UNTESTED, f"no {metric} rows with intervals for {name} and the real code")
            )
            continue
        compared = compare_intervals(own, floor, better=worse)  # "a is worse than real code"
        ceiling = evidence.anchor(HALLUCINATION_CEILINGS[metric], metric)
        verdicts.append(
            Verdict(
                compared.status,
                f"{metric} of {name}'s completions {_figure(own)} vs the real continuations' {_figure(floor)}, "
                f"difference {_figure(compared.effect)} (n={own.n})"
                + (f", ceiling {_figure(ceiling)}" if ceiling is not None else ""),
            )
        )
    statuses = [v.status for v in verdicts]
    status = (
        HOLDS if HOLDS in statuses else FAILS if statuses == [FAILS, FAILS] else _combine(verdicts).status
    )
    return Verdict(status, "; ".join(v.evidence for v in verdicts))


PREDICATES: dict[str, Callable[[Evidence, str], Verdict]] = {
    "best_quality": best_quality,
    "slowest": slowest,
    "fastest": fastest,
    "unstable": unstable,
    "smooth": smooth,
    "blurriest": blurriest,
    "most_flops_per_sample": most_flops_per_sample,
    "most_bytes_per_sample": most_bytes_per_sample,
    "hallucinates": hallucinates,
}


def judge(claim: protocol.Claim, evidence: Evidence, name: str) -> Verdict:
    """All of the claim's predicates, combined as ``_combine`` combines peers."""
    verdicts = [
        PREDICATES[p](evidence, name)
        if p in PREDICATES
        else Verdict(UNTESTED, f"no predicate {p!r} in genzoo.report.claims")
        for p in claim.predicates
    ]
    return _combine(verdicts)


def claim_results(frame: pd.DataFrame) -> list[ClaimResult]:
    """Every claim of each installed family in the table, per machine."""
    rows = model_rows(frame)
    known = families(rows["subject"])
    best = best_points(frame)
    results = []
    for machine in sorted(rows["machine"].unique()):
        mine = rows[rows["machine"] == machine]
        costs = frame[(frame["kind"] == "cost") & (frame["machine"] == machine)]
        evidence = Evidence(mine, best[best["machine"] == machine].set_index("family"), costs)
        for name, family in known.items():
            if not (mine["subject"] == name).any():
                continue
            for claim in family.claims:
                verdict = judge(claim, evidence, name)
                results.append(ClaimResult(name, claim.text, verdict.status, verdict.evidence, machine))
    return results


def claims(frame: pd.DataFrame) -> list[str]:
    """One sentence per claim of each installed family in the table (per machine, where several)."""
    results = claim_results(frame)
    several = len({result.machine for result in results}) > 1
    return [
        f"Claim '{r.claim}' {r.status}{f' on {r.machine}' if several else ''}: {r.evidence}." for r in results
    ]

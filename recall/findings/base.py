"""What every finding is: the runs it needs, one effect measured per seed, a threshold.

A finding's effect is one number per seed, signed so that it is positive (above the
threshold) when the study's claim holds. Over the seeds it gets a mean and a Student-t
95 % interval, and the verdict follows from the interval alone: `holds` when it lies above
the threshold, `fails` when it lies below, `inconclusive` when it straddles it (or when
there is one seed: no interval). The thresholds live in each finding's module, with the
reason for their value; they are never tuned to a result.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from matplotlib.figure import Figure

from recall.runs import RunFolder

Runs = Mapping[str, RunFolder]  # one seed's finished runs, by label
Overrides = tuple[str, ...] | Callable[[Runs], Sequence[str]]


@dataclass(frozen=True)
class PlannedRun:
    """One run a finding needs, for each seed: recall-train or recall-finetune with these
    overrides (the seed and the run folder are added by the runner). Overrides that depend
    on other runs of the same seed (a reference's folder, a step of its plateau) are a
    function of those runs, which the plan lists earlier."""

    label: str  # its folder: <out>/runs/<label>/seed_<s>
    entry: str  # "train" or "finetune"
    overrides: Overrides
    purpose: str
    needs: tuple[PlannedRun, ...] = ()  # the runs `overrides` reads, planned first

    def resolve(self, runs: Runs) -> list[str]:
        return list(self.overrides(runs) if callable(self.overrides) else self.overrides)


@dataclass(frozen=True)
class Measurement:
    effect: float  # in the study's direction: larger means more of the claimed effect
    detail: str  # what was measured on this seed, in words and numbers


@dataclass
class Judged:
    """A finding over seeds: the row of report.md and of findings.json."""

    id: str
    title: str
    study: str
    effect: str  # the effect's name
    threshold: float
    why: str  # why the threshold has its value
    per_seed: dict[int, float]
    mean: float
    ci95: tuple[float, float]
    verdict: str  # holds | fails | inconclusive
    details: dict[int, str] = field(default_factory=dict)
    failed_runs: list[str] = field(default_factory=list)
    wall_s: float = 0.0


class Finding(ABC):
    """One claim of the study: subclasses set the class attributes and say which runs
    they need and how one seed's runs give the effect."""

    id: str
    title: str
    study: str  # what the study reported
    effect: str  # name of the measured effect, with its unit
    threshold: float
    why: str  # why the threshold has this value (shown in the report)
    min_seeds: int = 3

    @abstractmethod
    def runs(self) -> Sequence[PlannedRun]:
        """The runs to make for each seed, dependencies first."""

    def labels(self) -> set[str]:
        """Every run `measure` may read: its runs and the runs they need."""
        return {r.label for r in self.runs()} | {n.label for r in self.runs() for n in r.needs}

    @abstractmethod
    def measure(self, runs: Runs) -> Measurement:
        """The effect on one seed's runs."""

    def figure(self, runs: Runs) -> tuple[Figure, str] | None:
        """A figure of one seed's runs and its caption, or None."""
        return None

    def figures(self, runs: Runs) -> dict[str, tuple[Figure, str]]:
        """The report's figures of this finding by file stem, with captions."""
        drawn = self.figure(runs)
        return {} if drawn is None else {self.id: drawn}

    def judge(self, measured: Mapping[int, Measurement]) -> Judged:
        per_seed = {seed: m.effect for seed, m in sorted(measured.items())}
        mean, ci = t_interval(list(per_seed.values()))
        return Judged(
            self.id,
            self.title,
            self.study,
            self.effect,
            self.threshold,
            self.why,
            per_seed,
            mean,
            ci,
            verdict(ci, self.threshold),
            {seed: m.detail for seed, m in sorted(measured.items())},
        )


# Student t, two-sided 95 %: the 0.975 quantile for 1 to 30 degrees of freedom.
T_975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
         2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
         2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)  # fmt: skip
Z_975 = 1.959964


def t_quantile_975(df: int) -> float:
    """The Student-t 0.975 quantile; beyond 30 degrees of freedom its Cornish-Fisher
    expansion around the normal quantile (error < 1e-4 there)."""
    if df < 1:
        raise ValueError("a t interval needs at least 2 values")
    if df <= len(T_975):
        return T_975[df - 1]
    z = Z_975
    return z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)


def t_interval(values: Sequence[float]) -> tuple[float, tuple[float, float]]:
    """Mean and Student-t 95 % confidence interval of the mean; (nan, nan) for fewer than
    two finite values (one seed has no interval)."""
    x = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    mean = float(x.mean()) if len(x) else float("nan")
    if len(x) < 2:
        return mean, (float("nan"), float("nan"))
    half = t_quantile_975(len(x) - 1) * float(x.std(ddof=1)) / math.sqrt(len(x))
    return mean, (mean - half, mean + half)


def verdict(ci95: tuple[float, float], threshold: float) -> str:
    """holds: the interval lies above the threshold; fails: below it; else inconclusive."""
    low, high = ci95
    if low > threshold:
        return "holds"
    if high < threshold:
        return "fails"
    return "inconclusive"  # straddles it, or no interval (nan compares false)

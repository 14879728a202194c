"""Imbalanced sampling, P(i) ∝ i^-α, shortens the plateau at every population size."""

from __future__ import annotations

from collections.abc import Sequence

from recall.findings.base import Finding, Measurement, PlannedRun, Runs
from recall.findings.measures import final, onset, relative_shortening, steps_text
from recall.findings.shared_runs import size_run
from recall.plots.comparison import curves_figure
from recall.plots.dynamics import buckets_figure

ALPHA = 0.6  # the study: 0.6-0.8 gave the shortest plateau
SIZES = (1000, 2000)  # two of the uniform size runs, which are the controls


def power_law_run(n: int) -> PlannedRun:
    return PlannedRun(
        f"power_law_{n}",
        "train",
        (
            "experiment=plateau_vs_n",
            "data/distribution=power_law",
            f"data.distribution.alpha={ALPHA}",
            f"data.n_individuals={n}",
        ),
        f"power-law sampling (α = {ALPHA}) at N = {n}",
    )


class Imbalance(Finding):
    id = "imbalance"
    title = "imbalance shortens the plateau"
    study = (
        "sampling P(i) ∝ i^−α with α ≈ 0.6–0.8 gives the shortest plateau at every N; the tail "
        "is learned slower"
    )
    effect = f"1 − plateau(α = {ALPHA}) / plateau(uniform), the smaller over N = 1000 and 2000"
    threshold = 0.0
    why = "any shortening at both sizes; the smaller of the two, as the study claims every N"

    def runs(self) -> Sequence[PlannedRun]:
        return tuple(r for n in SIZES for r in (size_run(n), power_law_run(n)))

    def measure(self, runs: Runs) -> Measurement:
        parts, effects = [], []
        for n in SIZES:
            uniform, power = runs[f"size_{n}"], runs[f"power_law_{n}"]
            effects.append(relative_shortening(uniform, power))
            parts.append(
                f"N = {n}: onset {steps_text(onset(power))} against {steps_text(onset(uniform))}"
                f" uniform (head {final(power, 'seen/attr_acc/head'):.2f}, tail "
                f"{final(power, 'seen/attr_acc/tail'):.2f} at onset, where the run ends)"
            )
        return Measurement(min(effects), "; ".join(parts))

    def figure(self, runs: Runs):
        n = SIZES[-1]
        group = [runs[f"size_{n}"], runs[f"power_law_{n}"]]
        fig = curves_figure(group, ["uniform", f"α = {ALPHA}"], [onset(r) for r in group])
        return fig, f"Power-law sampling against uniform (N = {n})."

    def figures(self, runs: Runs):
        run = runs[f"power_law_{SIZES[-1]}"]
        caption = f"Accuracy by frequency bucket under α = {ALPHA} (N = {SIZES[-1]})."
        buckets = {f"{self.id}_buckets": (buckets_figure(run, run.detected_phases()), caption)}
        return {**super().figures(runs), **buckets}

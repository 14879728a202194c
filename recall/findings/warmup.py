"""A warm-up curriculum (a subset of individuals first, then everyone) learns faster than
uniform sampling, and than training on the subset alone."""

from __future__ import annotations

from collections.abc import Sequence

from recall.findings.base import Finding, Measurement, PlannedRun, Runs
from recall.findings.measures import final, onset
from recall.plots.comparison import curves_figure

N, STEPS = 2000, 1500  # a budget at which uniform sampling has only just left its plateau
SUBSET, WARMUP_STEPS = 250, 300  # an eighth of the population for a fifth of the budget
BASE = ("experiment=warmup", f"data.n_individuals={N}", f"trainer.max_steps={STEPS}")

UNIFORM = PlannedRun(
    "warmup_uniform", "train", (*BASE, "schedule=constant"), f"uniform sampling at N = {N}"
)
WARMUP = PlannedRun(
    "warmup",
    "train",
    (*BASE, f"schedule.individuals={SUBSET}", f"schedule.steps={WARMUP_STEPS}"),
    f"{SUBSET} individuals for {WARMUP_STEPS} steps, then all {N}",
)
SUBSET_ALONE = PlannedRun(
    "warmup_subset_alone",
    "train",
    (*BASE, f"schedule.individuals={SUBSET}", f"schedule.steps={STEPS}"),
    f"the {SUBSET} warm-up individuals for the whole run",
)


class Warmup(Finding):
    id = "warmup"
    title = "warm-up curriculum"
    study = (
        "a subset of individuals first, then all: ≈ 95 % accuracy where uniform sampling "
        "stayed near the baseline (128k individuals, 16k steps)"
    )
    effect = "final accuracy of warm-up − the better of uniform and subset alone"
    threshold = 0.0
    why = (
        "the curriculum must beat both controls: uniform sampling, and the subset alone "
        f"(which can know at most {SUBSET / N:.0%} of the population)"
    )

    def runs(self) -> Sequence[PlannedRun]:
        return (UNIFORM, WARMUP, SUBSET_ALONE)

    def measure(self, runs: Runs) -> Measurement:
        acc = {r.label: final(runs[r.label], "seen/attr_acc") for r in self.runs()}
        return Measurement(
            acc[WARMUP.label] - max(acc[UNIFORM.label], acc[SUBSET_ALONE.label]),
            f"N = {N}, {STEPS} steps: final accuracy {acc[WARMUP.label]:.2f} with warm-up, "
            f"{acc[UNIFORM.label]:.2f} uniform, {acc[SUBSET_ALONE.label]:.2f} subset alone",
        )

    def figure(self, runs: Runs):
        group = [runs[r.label] for r in self.runs()]
        labels = ["uniform", f"warm-up {SUBSET} for {WARMUP_STEPS} steps", "subset alone"]
        return curves_figure(group, labels, [onset(r) for r in group]), (
            f"Warm-up curriculum against uniform and the subset alone (N = {N})."
        )

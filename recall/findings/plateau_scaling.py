"""The plateau grows with the population as a power law (the study: 0.43·N^0.81 steps)."""

from __future__ import annotations

from collections.abc import Sequence

from recall.findings.base import Finding, Measurement, PlannedRun, Runs
from recall.findings.measures import onset
from recall.findings.shared_runs import SIZES, size_run
from recall.plots.comparison import curves_figure, power_law_figure
from recall.power_law import fit_power_law

STUDY_EXPONENT = 0.81


class PlateauScaling(Finding):
    id = "plateau_scaling"
    title = "plateau ∝ population"
    study = "plateau ≈ 0.43·N^0.81 steps (R² 0.998), N = 4k…256k, batch 128"
    effect = "−|b − 0.81|, b the exponent fitted on one seed's sizes"
    threshold = -0.3
    why = (
        "the exponent within 0.3 of the study's 0.81: growth clearly faster than √N and "
        "slower than N²; a seed with fewer than 3 plateaus ended has no fit and is left out"
    )
    min_seeds = 5

    def runs(self) -> Sequence[PlannedRun]:
        return tuple(size_run(n) for n in SIZES)

    def measure(self, runs: Runs) -> Measurement:
        onsets = [onset(runs[f"size_{n}"]) for n in SIZES]
        shown = " / ".join("–" if o is None else str(o) for o in onsets)
        ended = [(n, o) for n, o in zip(SIZES, onsets, strict=True) if o]
        fit = fit_power_law([n for n, _ in ended], [o for _, o in ended])
        text = f"plateau {shown} steps at N = {' / '.join(map(str, SIZES))}"
        if fit is None:
            return Measurement(float("nan"), text + ": no fit (< 3 plateaus ended)")
        return Measurement(
            -abs(fit.b - STUDY_EXPONENT), text + f": {fit.a:.2g}·N^{fit.b:.2f} (R² {fit.r2:.3f})"
        )

    def figure(self, runs: Runs):
        group = [runs[f"size_{n}"] for n in SIZES]
        onsets = [onset(r) for r in group]
        ended = [(n, o) for n, o in zip(SIZES, onsets, strict=True) if o]
        fit = fit_power_law([n for n, _ in ended], [o for _, o in ended])
        if fit is not None:
            return power_law_figure(fit), "Plateau length against N (one seed)."
        return curves_figure(group, [f"N={n}" for n in SIZES], onsets), "Curves by N."

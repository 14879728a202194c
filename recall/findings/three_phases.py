"""Three phases: the loss falls fast to the no-knowledge baseline, sits there with no
knowledge, then drops as individual-specific knowledge appears."""

from __future__ import annotations

from collections.abc import Sequence

from recall.findings.base import Finding, Measurement, PlannedRun, Runs
from recall.findings.shared_runs import REFERENCE
from recall.plots.phase_plot import phases_figure

FLAT_BAND = 0.05  # a plateau evaluation lies within ±5 % of the baseline ...
PLATEAU_ACC = 0.05  # ... with at most 5 % seen accuracy (chance is < 1 %)


class ThreePhases(Finding):
    id = "three_phases"
    title = "three phases"
    study = (
        "attribute loss falls fast to the no-knowledge baseline, sits on a plateau "
        "(accuracy ≈ 0), then drops as knowledge appears"
    )
    effect = "flat plateau / statistics phase (steps per step)"
    threshold = 1.0
    why = (
        "a plateau is only a phase of its own if the loss stays flat on the baseline at least "
        "as long as it took to get there; flat = every evaluation within ±5 % of the "
        "baseline and seen accuracy ≤ 0.05, counted from the statistics end until the first "
        "evaluation that is not flat or knowledge onset; no onset counts 0"
    )
    min_seeds = 5

    def runs(self) -> Sequence[PlannedRun]:
        return (REFERENCE,)

    def measure(self, runs: Runs) -> Measurement:
        ref = runs[REFERENCE.label]
        phases = ref.detected_phases()
        s, o = phases.statistics_end_step, phases.knowledge_onset_step
        steps, loss = ref.curve("seen/attr_loss")
        acc = ref.curve("seen/attr_acc")[1]
        if s is None or o is None:
            return Measurement(0.0, f"statistics end {s}, knowledge onset {o}: no third phase")
        between = (steps >= s) & (steps < o)
        flat = (abs(loss / phases.baseline - 1) <= FLAT_BAND) & (acc <= PLATEAU_ACC)
        broken = steps[between & ~flat]
        flat_end = int(broken[0]) if len(broken) else o
        worst = float(abs(loss[between] / phases.baseline - 1).max()) if between.any() else 0.0
        return Measurement(
            (flat_end - s) / s,
            f"statistics end {s}, knowledge onset {o} ({o / s:.1f}×), flat until {flat_end}; "
            f"on the plateau loss within {worst:.1%} of the baseline, accuracy ≤ "
            f"{acc[between].max() if between.any() else 0:.3f}; final accuracy {acc[-1]:.2f}",
        )

    def figure(self, runs: Runs):
        ref = runs[REFERENCE.label]
        steps, loss = ref.curve("seen/attr_loss")
        fig = phases_figure(steps, loss, ref.curve("seen/attr_acc")[1], ref.detected_phases())
        return fig, "The default run: loss against the no-knowledge baseline, and accuracy."

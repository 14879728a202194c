"""Three phases: the loss falls fast to the no-knowledge baseline, sits there with no
knowledge, then drops as individual-specific knowledge appears."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from recall.findings.base import Finding, Measurement, PlannedRun, Runs
from recall.findings.shared_runs import REFERENCE
from recall.plots.phase_plot import phases_figure
from recall.runs import RunFolder

FLAT_BAND = 0.05  # a plateau evaluation lies within ±5 % of the baseline ...
PLATEAU_ACC = 0.05  # ... with at most 5 % seen accuracy (chance is < 1 %)


@dataclass(frozen=True)
class Plateau:
    """How plain a run's plateau is: where it starts and ends, and how much of it is flat."""

    statistics_end: int | None
    onset: int | None
    flat_until: int | None  # the first evaluation that is not flat, or the onset
    worst_deviation: float  # the largest |loss / baseline - 1| on the plateau
    max_accuracy: float  # the largest seen accuracy on the plateau
    final_accuracy: float

    @property
    def complete(self) -> bool:
        """Both boundaries found and every evaluation between them flat."""
        return self.onset is not None and self.flat_until == self.onset


def plateau(run: RunFolder) -> Plateau:
    """The run's plateau, from its seen curve and detected phases."""
    phases = run.detected_phases()
    s, o = phases.statistics_end_step, phases.knowledge_onset_step
    steps, loss = run.curve("seen/attr_loss")
    acc = run.curve("seen/attr_acc")[1]
    if s is None or o is None:
        return Plateau(s, o, None, 0.0, 0.0, float(acc[-1]))
    between = (steps >= s) & (steps < o)
    deviation = abs(loss / phases.baseline - 1)
    broken = steps[between & ~((deviation <= FLAT_BAND) & (acc <= PLATEAU_ACC))]
    return Plateau(
        s,
        o,
        int(broken[0]) if len(broken) else o,
        float(deviation[between].max()) if between.any() else 0.0,
        float(acc[between].max()) if between.any() else 0.0,
        float(acc[-1]),
    )


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
        p = plateau(runs[REFERENCE.label])
        s, o = p.statistics_end, p.onset
        if s is None or o is None:
            return Measurement(0.0, f"statistics end {s}, knowledge onset {o}: no third phase")
        return Measurement(
            (p.flat_until - s) / s,
            f"statistics end {s}, knowledge onset {o} ({o / s:.1f}×), flat until "
            f"{p.flat_until}; on the plateau loss within {p.worst_deviation:.1%} of the "
            f"baseline, accuracy ≤ {p.max_accuracy:.3f}; final accuracy {p.final_accuracy:.2f}",
        )

    def figure(self, runs: Runs):
        ref = runs[REFERENCE.label]
        steps, loss = ref.curve("seen/attr_loss")
        fig = phases_figure(steps, loss, ref.curve("seen/attr_acc")[1], ref.detected_phases())
        return fig, "The default run: loss against the no-knowledge baseline, and accuracy."

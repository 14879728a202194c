"""Hallucinations arrive with knowledge: the loss on never-seen individuals rises above
its plateau level when, and not before, the training individuals become known."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from recall.findings.base import Finding, Measurement, PlannedRun, Runs
from recall.findings.shared_runs import REFERENCE
from recall.plots.dynamics import hallucination_figure

TOLERANCE = 3  # evaluations: the onset detector's own patience (2) plus one


def rise_step(
    steps: np.ndarray, loss: np.ndarray, start: int, margin: float, patience: int
) -> int | None:
    """First evaluation from `start` on at which the loss lies `margin` above its lowest
    value since `start`, and stays there for `patience` evaluations: the seen detector's
    knowledge onset mirrored, measured from the curve's own floor because the unseen loss
    need not sit exactly on its baseline."""
    after = np.flatnonzero(steps >= start)
    floor = np.minimum.accumulate(loss[after])
    above = loss[after] >= floor + margin
    for i in range(len(after) - patience + 1):
        if above[i : i + patience].all():
            return int(steps[after[i]])
    return None


class Hallucination(Finding):
    id = "hallucination"
    title = "hallucinations arrive with knowledge"
    study = (
        "loss on never-seen individuals rises above the baseline exactly when training "
        "individuals become known"
    )
    effect = "−|unseen-loss rise − knowledge onset|, in evaluations"
    threshold = -TOLERANCE
    why = (
        f"the rise within {TOLERANCE} evaluations of the onset, before or after; rise = the "
        "unseen loss 5 % of its baseline above its lowest value since the statistics end, "
        "for as many evaluations as the onset detector asks; a seed without knowledge onset, "
        f"or whose run ends within {TOLERANCE} evaluations of it with no rise yet, cannot "
        "tell and is left out of the interval"
    )

    def runs(self) -> Sequence[PlannedRun]:
        return (REFERENCE,)

    def measure(self, runs: Runs) -> Measurement:
        ref = runs[REFERENCE.label]
        phases = ref.detected_phases()
        s, o = phases.statistics_end_step, phases.knowledge_onset_step
        steps, unseen = ref.curve("unseen/attr_loss")
        if s is None or o is None:
            return Measurement(float("nan"), f"no knowledge onset (statistics end {s})")
        baseline = float(ref.curve("unseen/baseline")[1][0])
        detector = phases.settings
        rise = rise_step(steps, unseen, s, detector.knowledge_margin * baseline, detector.patience)
        at_onset = int(np.searchsorted(steps, o))
        if rise is not None:
            apart = abs(int(np.searchsorted(steps, rise)) - at_onset)
        else:  # none confirmed by the end: one would start in the last patience - 1 or later
            apart = len(steps) - detector.patience + 1 - at_onset
            if apart <= TOLERANCE:
                return Measurement(
                    float("nan"), f"no rise yet, knowledge onset at step {o}: the run ends too soon"
                )
        gaps = np.diff(steps)[:-1]  # the last may be shorter: the run's final step
        even = len(gaps) and (gaps == gaps[0]).all()
        cadence = f"evaluations every {gaps[0]} steps" if even else f"{apart} evaluations apart"
        return Measurement(
            float(-apart),
            f"unseen loss rises {'never' if rise is None else f'at step {rise}'}, knowledge "
            f"onset at step {o} ({cadence}); unseen loss "
            f"{unseen[steps >= s][0]:.2f} at the statistics end, {unseen[-1]:.2f} at the end "
            f"(baseline {baseline:.2f})",
        )

    def figure(self, runs: Runs):
        ref = runs[REFERENCE.label]
        return hallucination_figure(ref, ref.detected_phases()), "Seen vs unseen individuals."

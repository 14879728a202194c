"""Attention patching with patterns from early in the plateau is worse than untrained."""

from __future__ import annotations

from collections.abc import Sequence

from recall.findings.base import Finding, Measurement, PlannedRun, Runs
from recall.findings.measures import checkpoint_steps, final, onset, setting, steps_text
from recall.findings.shared_runs import REFERENCE, patched_twin
from recall.plots.comparison import curves_figure
from recall.runs import RunFolder

INTO_PLATEAU = 0.25  # "early in the plateau": a quarter of the way from its start to its end


def early_plateau_step(reference: RunFolder) -> int:
    """The reference checkpoint nearest to a quarter into its plateau, strictly inside it
    (the statistics end when the plateau holds no checkpoint, which the detail shows)."""
    phases = reference.detected_phases()
    s, o = phases.statistics_end_step, phases.knowledge_onset_step
    if s is None:
        raise ValueError(f"{reference.path} never reached the baseline: no plateau to patch from")
    end = o if o is not None else checkpoint_steps(reference)[-1]
    inside = [c for c in checkpoint_steps(reference) if s < c < end]
    target = s + INTO_PLATEAU * (end - s)
    return min(inside, key=lambda c: abs(c - target)) if inside else s


UNTRAINED = patched_twin(
    "patching_untrained", lambda ref: 0, "a twin with the reference's untrained patterns"
)
EARLY = patched_twin(
    "patching_early", early_plateau_step, "a twin with the reference's early-plateau patterns"
)


class PatchingEarly(Finding):
    id = "patching_early"
    title = "attention patching: early-plateau patterns"
    study = "patterns from early in the plateau are worse than untrained ones"
    effect = "final accuracy with untrained patterns − with early-plateau patterns"
    threshold = 0.0
    why = "worse = lower final seen accuracy than the twin with untrained (step 0) patterns"

    def runs(self) -> Sequence[PlannedRun]:
        return (UNTRAINED, EARLY)

    def measure(self, runs: Runs) -> Measurement:
        untrained, early = runs[UNTRAINED.label], runs[EARLY.label]
        phases = runs[REFERENCE.label].detected_phases()
        acc_u, acc_e = final(untrained, "seen/attr_acc"), final(early, "seen/attr_acc")
        return Measurement(
            acc_u - acc_e,
            f"final accuracy {acc_e:.2f} with step-{setting(early, 'patching.step')} patterns "
            f"(reference plateau {phases.statistics_end_step}–{phases.knowledge_onset_step}), "
            f"{acc_u:.2f} with untrained ones; onsets {steps_text(onset(early))} and "
            f"{steps_text(onset(untrained))}",
        )

    def figure(self, runs: Runs):
        group = [runs[UNTRAINED.label], runs[EARLY.label]]
        labels = ["untrained patterns", f"patterns of step {setting(group[1], 'patching.step')}"]
        return curves_figure(group, labels, [onset(r) for r in group]), (
            "Twins trained with the reference's untrained and early-plateau attention patterns."
        )

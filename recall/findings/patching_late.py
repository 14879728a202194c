"""Attention patching with patterns from after the plateau removes the plateau."""

from __future__ import annotations

from collections.abc import Sequence

from recall.findings.base import Finding, Measurement, PlannedRun, Runs
from recall.findings.measures import checkpoint_steps, onset, plateau_length, setting, steps_text
from recall.findings.shared_runs import REFERENCE, patched_twin
from recall.plots.comparison import curves_figure
from recall.runs import RunFolder


def post_plateau_step(reference: RunFolder) -> int:
    """The reference's last checkpoint: its patterns are those of a trained model."""
    return checkpoint_steps(reference)[-1]


# This finding reads only plateau lengths: the twin ends at its knowledge onset. It trains
# as the reference does, patterns aside, so the reference itself is its control.
LATE = patched_twin(
    "patching_late",
    post_plateau_step,
    "a twin with the reference's final attention patterns (the reference is its control)",
    until_onset=True,
)


class PatchingLate(Finding):
    id = "patching_late"
    title = "attention patching: post-plateau patterns"
    study = (
        "a twin trained with (stop-gradient) attention patterns from after the plateau has "
        "no plateau"
    )
    effect = "1 − twin's plateau / control's plateau"
    threshold = 0.75
    why = (
        "the patterns must remove most of the plateau: the twin's at most a quarter of the "
        "reference's (a plateau not ended counts as the run's length)"
    )

    def runs(self) -> Sequence[PlannedRun]:
        return (LATE,)

    def measure(self, runs: Runs) -> Measurement:
        reference, twin = runs[REFERENCE.label], runs[LATE.label]
        return Measurement(
            1 - plateau_length(twin) / plateau_length(reference),
            f"knowledge onset {steps_text(onset(twin))} with step-"
            f"{setting(twin, 'patching.step')} patterns against {steps_text(onset(reference))} "
            f"for the reference, its control (the twin ends at its onset, at most "
            f"{setting(twin, 'trainer.max_steps')} steps)",
        )

    def figure(self, runs: Runs):
        group = [runs[REFERENCE.label], runs[LATE.label]]
        labels = ["reference (control)", f"patterns of step {setting(group[1], 'patching.step')}"]
        return curves_figure(group, labels, [onset(r) for r in group]), (
            "A twin trained with the reference's final attention patterns, and the reference."
        )

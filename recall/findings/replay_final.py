"""Replay helps in the end: old accuracy ends higher than without it."""

from __future__ import annotations

from collections.abc import Sequence

from recall.findings.base import Finding, Measurement, PlannedRun, Runs
from recall.findings.measures import final
from recall.findings.shared_runs import FINETUNE, FINETUNE_REPLAY
from recall.plots.comparison import interference_comparison_figure


class ReplayFinal(Finding):
    id = "replay_final"
    title = "replay: old accuracy recovers only partly"
    study = "replaying old individuals during fine-tuning only partly prevents the collapse"
    effect = "final old accuracy with replay 1 − without"
    threshold = 0.0
    why = "replay must leave more of the old knowledge than none; the detail shows how much"

    def runs(self) -> Sequence[PlannedRun]:
        return (FINETUNE, FINETUNE_REPLAY)

    def measure(self, runs: Runs) -> Measurement:
        plain, replay = runs[FINETUNE.label], runs[FINETUNE_REPLAY.label]
        start = float(plain.curve("old/attr_acc")[1][0])
        with_replay, without = final(replay, "old/attr_acc"), final(plain, "old/attr_acc")
        return Measurement(
            with_replay - without,
            f"old accuracy at the end {with_replay:.2f} with replay, {without:.2f} without "
            f"(start {start:.2f})",
        )

    def figure(self, runs: Runs):
        group = [runs[FINETUNE.label], runs[FINETUNE_REPLAY.label]]
        return interference_comparison_figure(group, ["no replay", "replay 1"]), (
            "Fine-tuning on new individuals: old (solid) and new (dashed) accuracy."
        )

"""Replaying old individuals during fine-tuning does not prevent the initial decline."""

from __future__ import annotations

from collections.abc import Sequence

from recall.findings.base import Finding, Measurement, PlannedRun, Runs
from recall.findings.shared_runs import EARLY_STEPS, FINETUNE_REPLAY, initial_drop


class ReplayInitialDrop(Finding):
    id = "replay_initial_drop"
    title = "replay: the initial decline remains"
    study = "replaying old individuals does not prevent the initial decline of old accuracy"
    effect = f"fraction of old accuracy lost within the first {EARLY_STEPS} steps, replay 1"
    threshold = 0.1
    why = (
        "a decline well above evaluation noise (old accuracy is measured on 128 individuals "
        "× 6 attributes: a standard error of at most 0.013)"
    )

    def runs(self) -> Sequence[PlannedRun]:
        return (FINETUNE_REPLAY,)

    def measure(self, runs: Runs) -> Measurement:
        run = runs[FINETUNE_REPLAY.label]
        drop, step = initial_drop(run)
        start = float(run.curve("old/attr_acc")[1][0])
        return Measurement(
            drop, f"old accuracy {start:.2f} → {(1 - drop) * start:.2f} at step {step}"
        )

"""Fine-tuning on new individuals corrupts the memories of the old ones, fast."""

from __future__ import annotations

from collections.abc import Sequence

from recall.findings.base import Finding, Measurement, PlannedRun, Runs
from recall.findings.measures import setting, steps_text
from recall.findings.shared_runs import EARLY_STEPS, FINETUNE, initial_drop
from recall.finetune import interference_summary


class Forgetting(Finding):
    id = "forgetting"
    title = "fine-tuning corrupts memories"
    study = (
        "fine-tuning on 1k–16k new individuals collapses old accuracy within ~100 steps while "
        "new facts are learned slowly"
    )
    effect = f"fraction of old accuracy lost within the first {EARLY_STEPS} steps"
    threshold = 0.5
    why = "a collapse: old accuracy at least halves, as fast as the study saw it"

    def runs(self) -> Sequence[PlannedRun]:
        return (FINETUNE,)

    def measure(self, runs: Runs) -> Measurement:
        run = runs[FINETUNE.label]
        drop, step = initial_drop(run)
        s = interference_summary(run)
        return Measurement(
            drop,
            f"{setting(run, 'new_individuals')} new individuals: old accuracy "
            f"{s['old_acc_start']:.2f} → {(1 - drop) * s['old_acc_start']:.2f} at step {step}, "
            f"halved {steps_text(s['steps_to_half_old_acc'])}, {s['old_acc_final']:.2f} at "
            f"the end; new accuracy {s['new_acc_final']:.2f} after {s['final_step']} steps",
        )

"""Attention patterns stay stable while fine-tuning, judged against the control that
continues pre-training on the old individuals for as many steps."""

from __future__ import annotations

from collections.abc import Sequence

from recall.findings.base import Finding, Measurement, PlannedRun, Runs
from recall.findings.shared_runs import FINETUNE


class AttentionStability(Finding):
    id = "attention_stability"
    title = "attention stays stable in fine-tuning"
    study = "attention patterns stay stable while fine-tuning"
    effect = "−(largest change of a circuit metric beyond the control's), attention mass"
    threshold = -0.1
    why = (
        "every circuit (name → name, attribute → name, attribute → text, per layer) moves "
        "within 0.1 attention mass of what it moves in the continued-pre-training control"
    )

    def runs(self) -> Sequence[PlannedRun]:
        return (FINETUNE,)

    def measure(self, runs: Runs) -> Measurement:
        run = runs[FINETUNE.label]
        stability = run.read_json(run.interference)["attention_stability"]
        differences = {
            key: entry["difference"]
            for key, entry in stability.items()
            if not key.startswith("attn_drift/")
        }
        worst = max(differences, key=lambda k: abs(differences[k]))
        return Measurement(
            -abs(differences[worst]),
            "circuit change minus the control's: "
            + ", ".join(f"{k} {d:+.2f}" for k, d in differences.items())
            + f" (largest: {worst})",
        )

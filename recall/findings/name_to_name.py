"""Attention from the last name token to the other name tokens forms in the first layer."""

from __future__ import annotations

from collections.abc import Sequence

from recall.circuits import attention_layers
from recall.findings.base import Finding, Measurement, PlannedRun, Runs
from recall.findings.shared_runs import REFERENCE


class NameToName(Finding):
    id = "name_to_name"
    title = "name → name attention forms in the first layer"
    study = (
        "attention from the last name token to the other name tokens (first layer) forms in "
        "a few hundred steps"
    )
    effect = "largest name → name attention mass of a first-layer head over training"
    threshold = 0.5
    why = "a head that gathers the name puts most of its attention on the other name tokens"

    def runs(self) -> Sequence[PlannedRun]:
        return (REFERENCE,)

    def measure(self, runs: Runs) -> Measurement:
        ref = runs[REFERENCE.label]
        first = attention_layers(ref)[0]
        peaks = {}
        for column in ref.columns(f"attn/name_to_name/layer{first}/head"):
            steps, values = ref.curve(column)
            peaks[column.rsplit("/", 1)[1]] = (float(values.max()), int(steps[values.argmax()]))
        head, (best, step) = max(peaks.items(), key=lambda item: item[1][0])
        return Measurement(best, f"layer {first}, {head}: {best:.2f} at step {step}")

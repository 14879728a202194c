"""Attention from the value-predicting position to the name forms during the plateau."""

from __future__ import annotations

from collections.abc import Sequence

from recall.circuits import attention_layers
from recall.findings.base import Finding, Measurement, PlannedRun, Runs
from recall.findings.measures import at_step, final
from recall.findings.shared_runs import REFERENCE
from recall.plots.dynamics import attention_figure


class AttributeToName(Finding):
    id = "attribute_to_name"
    title = "attribute → name attention forms during the plateau"
    study = (
        "last-layer attention from the value-predicting position to the name rises across "
        "the plateau (≈ 0.3 → 0.9), attention to the rest of the text falls (≈ 0.1)"
    )
    effect = "rise of last-layer attribute → name attention mass, statistics end → onset"
    threshold = 0.2
    why = "a third of the study's rise of 0.6; no plateau end gives no rise (0)"

    def runs(self) -> Sequence[PlannedRun]:
        return (REFERENCE,)

    def measure(self, runs: Runs) -> Measurement:
        ref = runs[REFERENCE.label]
        phases = ref.detected_phases()
        s, o = phases.statistics_end_step, phases.knowledge_onset_step
        last = attention_layers(ref)[-1]
        name, text = f"attn/attr_to_name/layer{last}", f"attn/attr_to_text/layer{last}"
        if s is None or o is None:
            return Measurement(0.0, f"no plateau ended (statistics end {s}, onset {o})")
        to_name = [at_step(ref, name, t) for t in (s, o)]
        to_text = [at_step(ref, text, t) for t in (s, o)]
        return Measurement(
            to_name[1] - to_name[0],
            f"layer {last}: → name {to_name[0]:.2f} → {to_name[1]:.2f}, → text "
            f"{to_text[0]:.2f} → {to_text[1]:.2f} (statistics end {s} → onset {o}); "
            f"{final(ref, name):.2f} and {final(ref, text):.2f} at the end",
        )

    def figure(self, runs: Runs):
        ref = runs[REFERENCE.label]
        return attention_figure(ref, ref.detected_phases()), "Attention circuits over training."

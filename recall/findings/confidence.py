"""Answers about never-seen individuals are confident, though less than about seen ones."""

from __future__ import annotations

from collections.abc import Sequence

from recall.findings.base import Finding, Measurement, PlannedRun, Runs
from recall.findings.measures import final
from recall.findings.shared_runs import REFERENCE


class Confidence(Finding):
    id = "confidence"
    title = "unseen individuals: confident but less so"
    study = "max-prob ≈ 0.8 vs ≈ 1.0 and entropy ≈ 0.7 vs ≈ 0.02 (unseen vs seen)"
    effect = "mean probability of the greedy value on unseen individuals, at the end"
    threshold = 0.5
    why = "a confident hallucination puts most of the probability on one made-up value"

    def runs(self) -> Sequence[PlannedRun]:
        return (REFERENCE,)

    def measure(self, runs: Runs) -> Measurement:
        ref = runs[REFERENCE.label]
        got = {
            (group, m): final(ref, f"{group}/{m}")
            for group in ("seen", "unseen")
            for m in ("max_prob", "entropy", "hallucination_rate")
        }
        return Measurement(
            got["unseen", "max_prob"],
            f"max-prob {got['unseen', 'max_prob']:.2f} vs {got['seen', 'max_prob']:.2f}, "
            f"entropy {got['unseen', 'entropy']:.2f} vs {got['seen', 'entropy']:.2f} (unseen "
            f"vs seen); {got['unseen', 'hallucination_rate']:.0%} of unseen answers confident",
        )

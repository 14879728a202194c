"""Hallucination: how confidently the model answers for individuals it never saw.

On unseen individuals no answer can be known, so any confident answer is made up. The
study found that the unseen attribute loss rises *above* the no-knowledge baseline just
when seen individuals become known: the model starts to answer everyone confidently.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import lightning as L

from recall.callbacks.base import DynamicsCallback, tensorboards
from recall.errors import ConfigError

if TYPE_CHECKING:
    from recall.metrics import AttributeScores
    from recall.model.module import RecallModule


class Hallucination(DynamicsCallback):
    """Logs unseen/{attr_loss, baseline, attr_loss_excess (loss minus the unseen set's own
    no-knowledge baseline), max_prob, entropy, hallucination_rate}
    and seen/{max_prob, entropy, hallucination_rate} for comparison, and histograms of
    both confidences to TensorBoard.

    A prediction is a hallucination candidate when its confidence (the probability of
    the model's greedy value) exceeds `threshold`; on unseen individuals every such
    prediction is made up.
    """

    def __init__(self, threshold: float = 0.5) -> None:
        if not 0 < threshold < 1:
            raise ConfigError(f"callbacks.hallucination.threshold={threshold} must be in (0, 1)")
        self.threshold = threshold

    def on_evaluation(
        self, trainer: L.Trainer, module: RecallModule, scores: dict[str, AttributeScores]
    ) -> dict[str, float]:
        unseen = module.score(trainer.datamodule.eval_batches["unseen"])
        baseline = module.hparams.baselines["unseen"]
        metrics = {
            "unseen/attr_loss": unseen.attr_loss,
            "unseen/baseline": baseline,
            "unseen/attr_loss_excess": unseen.attr_loss - baseline,
        }
        for split, s in (("seen", scores["seen"]), ("unseen", unseen)):
            metrics[f"{split}/max_prob"] = s.confidence.mean().item()
            metrics[f"{split}/entropy"] = s.entropy.mean().item()
            metrics[f"{split}/hallucination_rate"] = (
                (s.confidence > self.threshold).float().mean().item()
            )
        for logger in tensorboards(trainer):
            for split, s in (("seen", scores["seen"]), ("unseen", unseen)):
                logger.experiment.add_histogram(
                    f"{split}/confidence", s.confidence, module.global_step, bins=20
                )
        return metrics

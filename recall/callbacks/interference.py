"""Interference: what fine-tuning on new individuals does to the old ones.

At each evaluation (every step at first, with `eval.dense_until`), from the module's
seen scores split by `datamodule.eval_groups`:
- old/attr_loss, old/attr_acc: individuals of the pre-training population;
- new/attr_loss, new/attr_acc: the individuals fine-tuning adds; not logged at all when
  there are none (the control, `new_individuals=0`), so metrics.csv has no new/ columns;
and, on a fixed batch of old biographies (held-out templates), one forward pass giving:
- attn/<circuit>/layer<l> for the circuits name_to_name, attr_to_name and attr_to_text
  (`recall.callbacks.attention.circuit_metrics`, head means): how the attention circuits
  of the study move, to be compared with a control that continues pre-training;
- attn_drift/layer<l>: how far attention patterns have moved from the starting
  checkpoint's, as the total-variation distance between each query's attention
  distributions (0: unchanged, 1: disjoint), averaged over heads and the biographies'
  tokens.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import lightning as L
import torch
from torch import Tensor

from recall.callbacks.attention import circuit_metrics
from recall.callbacks.base import DynamicsCallback
from recall.data.corpus import BiographyBatch
from recall.data.finetuning import GROUPS
from recall.errors import ConfigError

if TYPE_CHECKING:
    from recall.metrics import AttributeScores
    from recall.model.module import RecallModule

CIRCUITS = ("name_to_name", "attr_to_name", "attr_to_text")  # logged as attn/<c>/layer<l>


def attention_drift(patterns: list[Tensor], reference: list[Tensor], tokens: Tensor) -> Tensor:
    """Per layer, mean total-variation distance between query rows over real tokens."""
    real = (tokens > 0).float()[:, None, :]  # [B, 1, L]
    drift = []
    for p, q in zip(patterns, reference, strict=True):
        distance = 0.5 * (p - q).abs().sum(-1)  # [B, H, L]
        drift.append((distance * real).sum() / (real.sum() * p.shape[1]))
    return torch.stack(drift)


class Interference(DynamicsCallback):
    def __init__(self, n_biographies: int = 64) -> None:
        self.n_biographies = n_biographies
        self.reference: list[Tensor] | None = None

    def _drift_batch(self, trainer: L.Trainer) -> BiographyBatch:
        datamodule = trainer.datamodule
        old = torch.from_numpy(datamodule.eval_groups["old"]).nonzero().flatten()
        # trimmed: the same tensors whatever else the evaluation set holds (new individuals)
        return datamodule.eval_batches["seen"].select(old[: self.n_biographies]).trimmed()

    def on_fit_start(self, trainer: L.Trainer, module: RecallModule) -> None:
        if not hasattr(trainer.datamodule, "eval_groups"):
            raise ConfigError("the interference callback needs a fine-tuning datamodule")
        self.reference = module.attention_patterns(self._drift_batch(trainer))

    def on_evaluation(
        self, trainer: L.Trainer, module: RecallModule, scores: dict[str, AttributeScores]
    ) -> dict[str, float]:
        metrics = {}
        for group in GROUPS:
            rows = torch.from_numpy(trainer.datamodule.eval_groups[group])
            if not rows.any():  # no new individuals: the control
                continue
            part = scores["seen"].select(rows)
            metrics[f"{group}/attr_loss"] = part.attr_loss
            metrics[f"{group}/attr_acc"] = part.attr_acc
        batch = self._drift_batch(trainer)
        patterns = module.attention_patterns(batch)
        circuits = circuit_metrics(patterns, batch)
        for name in CIRCUITS:
            for layer, heads in enumerate(circuits[name]):
                metrics[f"attn/{name}/layer{layer}"] = heads.mean().item()
        drift = attention_drift(patterns, self.reference, batch.tokens)
        for layer, value in enumerate(drift.tolist()):
            metrics[f"attn_drift/layer{layer}"] = value
        return metrics

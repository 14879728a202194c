"""The hook every dynamics callback implements, called at each evaluation step.

The module scores its fixed evaluation sets once per evaluation step and hands the
scores to every `DynamicsCallback`; each returns its own metrics, and all of them are
logged together as one row at that step. Cadence and evaluation batches are therefore
set once, in one place, for all callbacks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import lightning as L
import torch
from lightning.pytorch.loggers import TensorBoardLogger

if TYPE_CHECKING:
    from recall.data.corpus import BiographyBatch
    from recall.metrics import AttributeScores


class EvaluatedModule(Protocol):
    """What a dynamics callback reads from the module it observes (a RecallModule): so
    that callbacks need not import the module that calls them."""

    global_step: int
    baseline: float
    hparams: Any

    def score(self, batch: BiographyBatch) -> AttributeScores: ...

    def attention_patterns(self, batch: BiographyBatch) -> list[torch.Tensor]: ...


class DynamicsCallback(L.Callback):
    def on_evaluation(
        self, trainer: L.Trainer, module: EvaluatedModule, scores: dict[str, AttributeScores]
    ) -> dict[str, float]:
        """Metrics to log at this evaluation step (`scores` holds the module's own sets)."""
        return {}


def tensorboards(trainer: L.Trainer) -> list[TensorBoardLogger]:
    """The trainer's TensorBoard loggers, where callbacks log figures and histograms."""
    return [logger for logger in trainer.loggers if isinstance(logger, TensorBoardLogger)]

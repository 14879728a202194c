"""Data of a fine-tuning stage: new individuals, replay of the old ones, old/new evaluation.

The fine-tuning population is the pre-training one with new individuals appended to the
seen rows (`add_individuals`). A new individual is drawn with weight 1 and an old one
with weight `replay` (0: no replay), old ones keeping their pre-training frequencies
relative to each other. With no new individuals (the control: pre-training continued on
the old population) old ones are drawn with their pre-training frequencies and `replay`
does not matter. The seen evaluation set holds `n_eval` old and `n_eval` new individuals
(no new ones in the control); `eval_groups` says which is which. The old biographies are
drawn from their own random stream, so they are the same whatever the number of new
individuals: a fine-tuning run and its control are measured on the same text. Training
batches come from a stream of their own (`streams.FINETUNING`), not pre-training's, so the
control continues pre-training on fresh biographies instead of replaying its first batches.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch
import torch.nn.functional as F

from recall.data.corpus import BiographyBatch, Corpus
from recall.data.datamodule import (
    BiographyDataModule,
    LoaderConfig,
    seen_for_evaluation,
    spread,
)
from recall.data.schedules import Schedule
from recall.data.streams import EVALUATION, FINETUNING, NEW_EVALUATION, generator
from recall.errors import ConfigError

GROUPS = ("old", "new")


def replay_schedule(old_weights: np.ndarray, n_new: int, replay: float) -> Schedule:
    """Constant weights: `replay` per old individual on average, 1 per new one; with no new
    individuals, the old weights alone (continued pre-training)."""
    if replay < 0 or not np.isfinite(replay):
        raise ConfigError(f"replay={replay} must be zero or a positive weight (e.g. 0.5)")
    if n_new == 0:
        weights = old_weights / old_weights.sum()
        return Schedule([0], [weights], weights)
    old = replay * old_weights / old_weights.mean()
    weights = np.concatenate([old, np.ones(n_new)])
    weights = weights / weights.sum()
    return Schedule([0], [weights], weights)


class FinetuneDataModule(BiographyDataModule):
    """The training stream of a replay schedule; evaluation split into old and new."""

    stream_key = FINETUNING

    def __init__(
        self,
        corpus: Corpus,
        config: LoaderConfig,
        schedule: Schedule,
        seed: int,
        steps: int,
        n_old: int,
        old_weights: np.ndarray,
    ) -> None:
        self.n_old, self.old_weights = n_old, old_weights
        super().__init__(corpus, config, schedule, seed, steps)

    def _evaluation_sets(self) -> None:
        n_new = self.corpus.population.n_seen - self.n_old
        old = seen_for_evaluation(self.old_weights, self.config.n_eval)
        new = self.n_old + spread(n_new, self.config.n_eval)
        batch = self.corpus.evaluation_batch(old, generator(self.seed, EVALUATION))
        if len(new):
            rng = generator(self.seed, NEW_EVALUATION)
            batch = concatenate(batch, self.corpus.evaluation_batch(new, rng))
        seen = np.concatenate([old, new])
        self.eval_batches = {"seen": batch}
        self.eval_buckets = {}
        self.eval_groups = {"old": seen < self.n_old, "new": seen >= self.n_old}


def concatenate(first: BiographyBatch, second: BiographyBatch) -> BiographyBatch:
    """The rows of both batches, the shorter padded to the longer's length."""
    length = max(first.tokens.shape[1], second.tokens.shape[1])

    def padded(batch: BiographyBatch) -> BiographyBatch:
        extra = length - batch.tokens.shape[1]
        return replace(
            batch,
            tokens=F.pad(batch.tokens, (0, extra), value=0),
            value_attr=F.pad(batch.value_attr, (0, extra), value=-1),
        )

    first, second = padded(first), padded(second)
    fields = first.__dataclass_fields__
    return BiographyBatch(*(torch.cat([getattr(first, f), getattr(second, f)]) for f in fields))

"""Data of a fine-tuning stage: new individuals, replay of the old ones, old/new evaluation.

The fine-tuning population is the pre-training one with new individuals appended to the
seen rows (`add_individuals`). A new individual is drawn with weight 1 and an old one
with weight `replay` (0: no replay), old ones keeping their pre-training frequencies
relative to each other. The seen evaluation set holds `n_eval` old and `n_eval` new
individuals; `eval_groups` says which is which.
"""

from __future__ import annotations

import numpy as np

from recall.data.corpus import Corpus
from recall.data.datamodule import EVAL_STREAM, BiographyDataModule, LoaderConfig, spread
from recall.data.distributions import frequency_rank
from recall.data.schedules import Schedule
from recall.errors import ConfigError

GROUPS = ("old", "new")


def replay_schedule(old_weights: np.ndarray, n_new: int, replay: float) -> Schedule:
    """Constant weights: `replay` per old individual on average, 1 per new one."""
    if replay < 0 or not np.isfinite(replay):
        raise ConfigError(f"replay={replay} must be zero or a positive weight (e.g. 0.5)")
    old = replay * old_weights / old_weights.mean()
    weights = np.concatenate([old, np.ones(n_new)])
    weights = weights / weights.sum()
    return Schedule([0], [weights], weights)


class FinetuneDataModule(BiographyDataModule):
    """The training stream of a replay schedule; evaluation split into old and new."""

    def __init__(
        self,
        corpus: Corpus,
        config: LoaderConfig,
        schedule: Schedule,
        seed: int,
        n_old: int,
        old_weights: np.ndarray,
    ) -> None:
        self.n_old, self.old_weights = n_old, old_weights
        super().__init__(corpus, config, schedule, seed)

    def _evaluation_sets(self) -> None:
        n_new = self.corpus.population.n_seen - self.n_old
        old = frequency_rank(self.old_weights)[spread(self.n_old, self.config.n_eval)]
        new = self.n_old + spread(n_new, self.config.n_eval)
        rng = np.random.default_rng([self.seed, EVAL_STREAM])
        seen = np.concatenate([old, new])
        self.eval_batches = {"seen": self.corpus.evaluation_batch(seen, rng)}
        self.eval_buckets = {}
        self.eval_groups = {"old": seen < self.n_old, "new": seen >= self.n_old}

"""The Lightning datamodule: an endless, step-indexed stream of fresh biographies.

The batch for step s depends only on (seed, s), so a run resumed at step s sees exactly
the batches the uninterrupted run would have seen, with no sampler state to save.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import lightning as L
import numpy as np
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from recall.data.baseline import no_knowledge_baseline, uniform_baseline
from recall.data.corpus import BiographyBatch, Corpus
from recall.data.distributions import BUCKETS, frequency_buckets, frequency_rank
from recall.data.schedules import Schedule
from recall.data.streams import EVALUATION, PRETRAINING, generator
from recall.errors import ConfigError


@dataclass(frozen=True)
class LoaderConfig:
    batch_size: int = 32
    distribution: dict[str, Any] = field(default_factory=lambda: {"name": "uniform"})
    frequency_buckets: tuple[float, float] = (0.1, 0.5)  # head / torso / tail rank quantiles
    n_eval: int = 256  # seen individuals in the fixed evaluation set
    num_workers: int = 0  # processes drawing batches ahead of the GPU; 0 on a small CPU

    def __post_init__(self) -> None:
        if self.batch_size <= 0:
            raise ConfigError(f"data.batch_size={self.batch_size} must be positive")
        buckets = self.frequency_buckets
        if len(buckets) != 2 or not 0 < buckets[0] < buckets[1] < 1:
            raise ConfigError(
                f"data.frequency_buckets={list(self.frequency_buckets)} must be two rank "
                "quantiles 0 < head < torso < 1, e.g. [0.1, 0.5]"
            )
        if self.n_eval <= 0:
            raise ConfigError(f"data.n_eval={self.n_eval} must be positive")
        if self.num_workers < 0:
            raise ConfigError(f"data.num_workers={self.num_workers} must be 0 or more")


class TrainingStream(IterableDataset):
    """Yields whole batches: batch s is drawn from a generator seeded by (seed, s) alone,
    in the random stream `key` (pre-training's unless said otherwise).

    Under data parallelism every process draws the same global batch and keeps its shard,
    so `batch_size` means the same optimisation whatever the number of processes.
    """

    def __init__(
        self,
        corpus: Corpus,
        schedule: Schedule,
        batch_size: int,
        seed: int,
        start_step: int,
        rank: int = 0,
        world_size: int = 1,
        key: tuple[int, ...] = PRETRAINING,
    ) -> None:
        if batch_size % world_size:
            raise ConfigError(
                f"data.batch_size={batch_size} must be divisible by the {world_size} "
                "training processes; change one of them"
            )
        self.corpus, self.schedule = corpus, schedule
        self.batch_size, self.seed, self.start_step = batch_size, seed, start_step
        self.rank, self.world_size, self.key = rank, world_size, key

    def choices(self, step: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The individuals, templates and sentence orders of step `step`'s global batch."""
        rng = generator(self.seed, self.key, step)
        individuals = self.schedule.sample(step, rng, self.batch_size)
        return individuals, *self.corpus.choose(individuals, rng, heldout=False)

    def batch(self, step: int) -> BiographyBatch:
        batch = self.corpus.build(*self.choices(step))
        return batch if self.world_size == 1 else batch.shard(self.rank, self.world_size)

    def __iter__(self) -> Iterator[BiographyBatch]:
        for step in worker_steps(self.start_step):
            yield self.batch(step)


def worker_steps(start: int) -> Iterator[int]:
    """The steps from `start` on that this DataLoader worker draws: worker w of W takes
    w, w + W, ... and the loader reads workers round-robin, so batches arrive in step
    order whatever the number of workers."""
    worker = get_worker_info()
    step, stride = start, 1
    if worker is not None:
        step, stride = start + worker.id, worker.num_workers
    while True:
        yield step
        step += stride


class BiographyDataModule(L.LightningDataModule):
    """Training stream plus fixed evaluation sets, all built from one corpus, and each
    set's no-knowledge baseline (`baselines`: seen, unseen, and uniform = log K).

    The baseline is the value marginal under the weights in force at the run's last step
    (of `steps`): the distribution the run settles on, against which its plateau and
    knowledge onset are read. For a constant schedule that is `data.distribution`; a
    schedule piece that names another distribution for the rest of the run changes it; a
    warm-up's subset, long left behind when the plateau ends, does not.

    The seen evaluation set is spread evenly over the frequency ranks of
    `data.distribution`, whatever the schedule, and `eval_buckets` says which of its
    biographies are in the head, torso and tail of that distribution.
    """

    stream_key = PRETRAINING  # the random stream of the training batches

    def __init__(
        self, corpus: Corpus, config: LoaderConfig, schedule: Schedule, seed: int, steps: int
    ) -> None:
        super().__init__()
        self.corpus, self.config, self.schedule, self.seed = corpus, config, schedule, seed
        self._evaluation_sets()
        population = corpus.population
        settled = schedule.weights_after(steps)
        self.baselines = {
            split: no_knowledge_baseline(population, settled, batch.individuals.numpy())
            for split, batch in self.eval_batches.items()
        }
        self.baselines["uniform"] = uniform_baseline(population)

    def _evaluation_sets(self) -> None:
        weights = self.schedule.base
        self.eval_choices = evaluation_choices(self.corpus, weights, self.config.n_eval, self.seed)
        seen = self.eval_choices["seen"][0]
        bucket = frequency_buckets(weights, self.config.frequency_buckets)[seen]
        self.eval_buckets = {name: bucket == i for i, name in enumerate(BUCKETS)}
        self.eval_batches = {
            split: self.corpus.build(*choices) for split, choices in self.eval_choices.items()
        }

    def stream(self, start_step: int = 0, rank: int = 0, world_size: int = 1) -> TrainingStream:
        return TrainingStream(
            self.corpus,
            self.schedule,
            self.config.batch_size,
            self.seed,
            start_step,
            rank,
            world_size,
            self.stream_key,
        )

    def train_dataloader(self) -> DataLoader:
        # Called after a checkpoint is restored, so global_step is where the run resumes.
        trainer = self.trainer
        stream = self.stream(trainer.global_step, trainer.global_rank, trainer.world_size)
        workers = self.config.num_workers
        return DataLoader(
            stream, batch_size=None, num_workers=workers, persistent_workers=workers > 0
        )


def evaluation_choices(
    corpus: Corpus, weights: np.ndarray, n_eval: int, seed: int
) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The fixed evaluation sets as (individuals, templates, orders), held-out templates
    only: `n_eval` seen individuals spread evenly over the frequency ranks of `weights`,
    and every unseen individual (no "unseen" set when there are none)."""
    population = corpus.population
    seen = seen_for_evaluation(weights, n_eval)
    unseen = np.arange(population.n_seen, population.n_seen + population.n_unseen)
    rng = generator(seed, EVALUATION)
    sets = {"seen": seen, "unseen": unseen} if len(unseen) else {"seen": seen}
    return {split: (ids, *corpus.choose(ids, rng, heldout=True)) for split, ids in sets.items()}


def seen_for_evaluation(weights: np.ndarray, n_eval: int) -> np.ndarray:
    """Up to `n_eval` individuals spread evenly over the frequency ranks of `weights`, among
    those with a positive weight: one never drawn (a zero custom weight) is not seen."""
    drawn = int((weights > 0).sum())
    return frequency_rank(weights)[spread(drawn, n_eval)]


def spread(n: int, k: int) -> np.ndarray:
    """Up to k of range(n), evenly spaced."""
    return np.unique(np.linspace(0, n - 1, min(n, k)).astype(np.int64))

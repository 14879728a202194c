"""A run's checkpoints in step order, with the corpus and the fixed inputs analyses read."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from recall.data.corpus import BiographyBatch, Corpus
from recall.data.streams import ANALYSIS, generator
from recall.errors import ConfigError
from recall.model.gpt import GPT
from recall.model.module import checkpoint_model
from recall.runs import RunFolder

PERIODIC = re.compile(r"step(\d{6})\.ckpt")
MIN_SNAPSHOTS = 4  # the untrained model and three trained: a token's trend fit over the
# trained ones needs a degree of freedom


@dataclass(frozen=True, order=True)
class Snapshot:
    step: int
    path: Path

    def model(self) -> GPT:
        return checkpoint_model(self.path).eval()


def snapshots(run: RunFolder) -> list[Snapshot]:
    """The run's step checkpoints (the untrained model's included), in step order."""
    found = sorted(
        Snapshot(int(m.group(1)), p)
        for p in run.checkpoints.glob("step*.ckpt")
        if (m := PERIODIC.fullmatch(p.name))
    )
    if len(found) < MIN_SNAPSHOTS:
        raise ConfigError(
            f"{run.path} has {len(found)} step checkpoint(s); analyses need at least "
            f"{MIN_SNAPSHOTS} (train with checkpoint.every_n_steps= at most a third of "
            "trainer.max_steps)"
        )
    return found


@dataclass(frozen=True)
class Inputs:
    """Fixed biographies (held-out templates) of seen and unseen individuals."""

    batch: BiographyBatch
    seen: np.ndarray  # bool per biography

    def name_ends(self) -> torch.Tensor:
        """[biography, sentence]: position of the last token of each mention of the name."""
        return self.batch.name_spans[:, :, 1] - 1

    def first_mention(self) -> torch.Tensor:
        """[biography]: which sentence comes first, i.e. the earliest mention of the name."""
        return self.batch.name_spans[:, :, 0].argmin(1)


def fixed_inputs(corpus: Corpus, n_seen: int, n_unseen: int, seed: int) -> Inputs:
    """Up to n_seen seen and n_unseen unseen individuals' biographies, the same for every
    checkpoint (individuals spread evenly over the population)."""
    population = corpus.population
    seen = np.unique(np.linspace(0, population.n_seen - 1, min(n_seen, population.n_seen)))
    unseen = population.n_seen + np.arange(min(n_unseen, population.n_unseen))
    individuals = np.concatenate([seen.astype(np.int64), unseen])
    batch = corpus.evaluation_batch(individuals, generator(seed, ANALYSIS))
    return Inputs(batch, np.arange(len(individuals)) < len(seen))

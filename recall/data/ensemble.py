"""The data of a training ensemble: every member's own stream, drawn step by step together.

Member i's batch at step s is the batch its separate run would draw at step s (its own
corpus, schedule and seed), so an ensemble member sees exactly its separate run's data.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import lightning as L
from torch.utils.data import DataLoader, IterableDataset

from recall.data.corpus import BiographyBatch
from recall.data.datamodule import BiographyDataModule, TrainingStream, worker_steps


class EnsembleStream(IterableDataset):
    """Yields, for each step from `start_step` on, the list of the members' batches."""

    def __init__(self, streams: Sequence[TrainingStream], start_step: int) -> None:
        self.streams, self.start_step = list(streams), start_step

    def __iter__(self) -> Iterator[list[BiographyBatch]]:
        for step in worker_steps(self.start_step):
            yield [stream.batch(step) for stream in self.streams]


class EnsembleDataModule(L.LightningDataModule):
    """The members' datamodules (each holds its evaluation sets) behind one loader."""

    def __init__(self, members: Sequence[BiographyDataModule]) -> None:
        super().__init__()
        self.members = list(members)

    def train_dataloader(self) -> DataLoader:
        # Called after a checkpoint is restored, so global_step is where the run resumes.
        step = self.trainer.global_step
        streams = [member.stream(step) for member in self.members]
        workers = self.members[0].config.num_workers  # the same for all members
        return DataLoader(
            EnsembleStream(streams, step),
            batch_size=None,
            num_workers=workers,
            persistent_workers=workers > 0,
        )

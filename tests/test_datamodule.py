"""The training stream: data-parallel shards and DataLoader workers keep its batches."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader

from recall.data.datamodule import TrainingStream
from recall.data.schedules import build_schedule
from recall.errors import ConfigError


@pytest.fixture(scope="module")
def schedule(corpus):
    return build_schedule({"name": "constant"}, {"name": "uniform"}, corpus.population.n_seen)


def stream(corpus, schedule, **kwargs) -> TrainingStream:
    return TrainingStream(corpus, schedule, batch_size=8, seed=5, start_step=0, **kwargs)


def test_data_parallel_shards_split_the_global_batch(corpus, schedule):
    whole = stream(corpus, schedule).batch(7)
    shards = [stream(corpus, schedule, rank=r, world_size=2).batch(7) for r in (0, 1)]
    for rank, shard in enumerate(shards):
        rows = whole.select(slice(rank, None, 2))
        assert torch.equal(shard.individuals, rows.individuals)
        length = shard.tokens.shape[1]
        assert torch.equal(shard.tokens, rows.tokens[:, :length])
        assert (rows.tokens[:, length:] == 0).all()  # only shared padding was cut
        assert (shard.tokens[:, -1] > 0).any()
    assert sorted(torch.cat([s.individuals for s in shards]).tolist()) == sorted(
        whole.individuals.tolist()
    )


def test_batch_size_must_split_evenly(corpus, schedule):
    with pytest.raises(ConfigError, match="divisible by the 3 training processes"):
        stream(corpus, schedule, world_size=3)


def test_loader_workers_deliver_the_steps_in_order(corpus, schedule):
    serial = stream(corpus, schedule)
    loader = DataLoader(stream(corpus, schedule), batch_size=None, num_workers=2)
    for step, batch in zip(range(5), loader, strict=False):
        assert torch.equal(batch.tokens, serial.batch(step).tokens)

"""Random streams: no two named streams of a run share their draws, and a fine-tuning run
draws batches of its own rather than replaying pre-training's."""

from __future__ import annotations

import numpy as np

from recall.data import streams
from recall.data.datamodule import BiographyDataModule, LoaderConfig
from recall.data.finetuning import FinetuneDataModule, replay_schedule
from recall.data.schedules import build_schedule

STEPS = (0, 1, 2, 7)


def first_draws(seed: int, key: tuple[int, ...], *step: int) -> tuple[int, ...]:
    return tuple(streams.generator(seed, key, *step).integers(2**62, size=4).tolist())


def test_trailing_zeros_do_not_make_a_new_stream():
    # Why streams.py ends every key in a non-zero id: numpy pads entropy with zeros.
    assert first_draws(3, ()) == first_draws(3, (0,)) == first_draws(3, (0, 0))


def test_every_named_stream_draws_its_own_numbers():
    for seed in (0, 1, 5):
        draws = {
            "population": first_draws(seed, streams.POPULATION),
            "evaluation": first_draws(seed, streams.EVALUATION),
            "new evaluation": first_draws(seed, streams.NEW_EVALUATION),
            "analysis": first_draws(seed, streams.ANALYSIS),
            "new individuals": first_draws(seed, streams.NEW_INDIVIDUALS),
        }
        for step in STEPS:
            draws[f"fine-tuning step {step}"] = first_draws(seed, streams.FINETUNING, step)
            if step:  # step 0 is the population's (the known collision in streams.py)
                draws[f"pre-training step {step}"] = first_draws(seed, streams.PRETRAINING, step)
        assert len(set(draws.values())) == len(draws), seed
    # the collision kept until the next full re-measurement: when it goes, so does this line
    assert first_draws(2, streams.POPULATION) == first_draws(2, streams.PRETRAINING, 0)


def test_a_continued_pre_training_control_does_not_replay_pre_training(corpus):
    n_old = corpus.population.n_seen
    weights = np.ones(n_old)
    config = LoaderConfig(batch_size=16, n_eval=40)
    schedule = build_schedule({"name": "constant"}, {"name": "uniform"}, n_old)
    pretraining = BiographyDataModule(corpus, config, schedule, 0, 100).stream()
    control = FinetuneDataModule(
        corpus, config, replay_schedule(weights, 0, replay=0.0), 0, 100, n_old, weights
    ).stream()
    for step in STEPS:
        assert not np.array_equal(
            control.batch(step).individuals.numpy(), pretraining.batch(step).individuals.numpy()
        ), step
    # ... yet it is the same distribution: every old individual, about equally often
    drawn = np.concatenate([control.choices(s)[0] for s in range(400)])  # 21 per individual
    counts = np.bincount(drawn, minlength=n_old)
    assert drawn.max() < n_old and counts.min() > 0

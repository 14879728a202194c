"""The no-knowledge baseline, checked against direct counts of the population's values,
and the marginal a run's schedule gives it."""

from collections import Counter

import numpy as np
import pytest

from recall.data.baseline import PSEUDO_COUNT, no_knowledge_baseline, uniform_baseline
from recall.data.corpus import Corpus
from recall.data.datamodule import BiographyDataModule, LoaderConfig
from recall.data.distributions import sampling_weights
from recall.data.population import PopulationConfig, generate_population
from recall.data.schedules import build_schedule

SIX = {  # the default run's value pools
    "birth_date": 336,
    "birth_city": 200,
    "university": 200,
    "major": 100,
    "company": 200,
    "current_city": 200,
}


def population(n: int, n_unseen: int = 0, seed: int = 0):
    return generate_population(
        PopulationConfig(n_individuals=n, n_unseen=n_unseen, attributes=SIX, seed=seed)
    )


def direct(pop, weights, individuals, pseudo_count=0.0):
    """Cross-entropy of the individuals' values under the weighted value marginal of the
    seen individuals, from value strings and a Counter (no shared code with recall)."""
    losses = []
    for attribute in pop.attributes:
        counts = Counter()
        for i in range(pop.n_seen):
            counts[pop.value(i, attribute)] += weights[i] / weights.sum() * pop.n_seen
        k = pop.pools[attribute].cardinality
        total = sum(counts.values()) + k * pseudo_count
        losses += [
            -np.log((counts[pop.value(i, attribute)] + pseudo_count) / total) for i in individuals
        ]
    return np.mean(losses)


def test_small_population_baseline_is_below_log_k_by_the_counted_amount():
    pop = population(250)
    uniform = np.ones(250)
    baseline = no_knowledge_baseline(pop, uniform, np.arange(250))
    assert baseline == pytest.approx(direct(pop, uniform, np.arange(250)), rel=1e-9)
    assert uniform_baseline(pop) == pytest.approx(np.mean([np.log(k) for k in SIX.values()]))
    shortfall = 1 - baseline / uniform_baseline(pop)
    assert 0.06 < shortfall < 0.12  # the study's log K overstates it by about 9 % at N = 250


def test_baseline_approaches_log_k_as_the_population_grows():
    gaps = [
        1 - no_knowledge_baseline(p, np.ones(n), np.arange(n)) / uniform_baseline(p)
        for n in (250, 1000, 8000)
        for p in [population(n)]
    ]
    assert gaps[0] > gaps[1] > gaps[2] > 0
    assert gaps[2] < 0.005


def test_baseline_weights_values_by_sampling_frequency():
    pop = population(500)
    weights = sampling_weights({"name": "power_law", "alpha": 1.0}, 500)
    evaluated = np.arange(0, 500, 3)
    weighted = no_knowledge_baseline(pop, weights, evaluated)
    assert weighted == pytest.approx(direct(pop, weights, evaluated), rel=1e-9)
    assert weighted != pytest.approx(no_knowledge_baseline(pop, np.ones(500), evaluated))


def test_values_missing_from_training_are_smoothed_not_infinite():
    pop = population(100, n_unseen=200)
    unseen = np.arange(100, 300)
    baseline = no_knowledge_baseline(pop, np.ones(100), unseen)
    assert np.isfinite(baseline)
    assert baseline == pytest.approx(
        direct(pop, np.ones(100), unseen, pseudo_count=PSEUDO_COUNT), rel=1e-9
    )
    assert baseline > uniform_baseline(pop)  # the training marginal misleads on strangers


def datamodule(schedule_cfg, distribution, n=400, steps=1000, n_eval=64):
    pop = generate_population(
        PopulationConfig(n_individuals=n, n_unseen=32, attributes=SIX, seed=0)
    )
    schedule = build_schedule(schedule_cfg, distribution, n)
    loader = LoaderConfig(distribution=distribution, n_eval=n_eval)
    return pop, BiographyDataModule(Corpus(pop), loader, schedule, 0, steps)


UNIFORM = {"name": "uniform"}
POWER_LAW = {"name": "power_law", "alpha": 1.0}


@pytest.mark.parametrize(
    ("schedule", "settles_on"),
    [
        # a piece that names its own distribution for the rest of the run: that one
        ({"name": "piecewise", "pieces": [{"step": 0, "distribution": POWER_LAW}]}, POWER_LAW),
        (
            {
                "name": "piecewise",
                "pieces": [{"step": 0}, {"step": 300, "distribution": POWER_LAW}],
            },
            POWER_LAW,
        ),
        # a warm-up's subset is left behind: data.distribution
        ({"name": "warmup", "individuals": 50, "steps": 300}, UNIFORM),
    ],
)
def test_the_baseline_is_the_marginal_the_run_settles_on(schedule, settles_on):
    pop, data = datamodule(schedule, UNIFORM)
    seen = data.eval_batches["seen"].individuals.numpy()
    weights = sampling_weights(settles_on, pop.n_seen)
    assert data.baselines["seen"] == pytest.approx(direct(pop, weights, seen), rel=1e-9)
    other = POWER_LAW if settles_on is UNIFORM else UNIFORM
    assert data.baselines["seen"] != pytest.approx(
        direct(pop, sampling_weights(other, pop.n_seen), seen), rel=1e-3
    )


def test_a_subset_trained_on_to_the_end_sets_the_baseline():
    """The warm-up's subset for the whole run: the marginal of those 50 individuals."""
    pop, data = datamodule({"name": "warmup", "individuals": 50, "steps": 1000}, UNIFORM)
    seen = data.eval_batches["seen"].individuals.numpy()
    subset = np.zeros(pop.n_seen)
    subset[:50] = 1  # uniform weights: the 50 most frequent are the first 50 (ties by index)
    assert data.baselines["seen"] == pytest.approx(
        direct(pop, subset, seen, pseudo_count=PSEUDO_COUNT), rel=1e-9
    )


def test_individuals_never_drawn_are_not_evaluated_as_seen(tmp_path):
    weights = np.ones(400)
    weights[300:] = 0  # custom weights: the last 100 are never trained on
    path = tmp_path / "weights.txt"
    np.savetxt(path, weights)
    _, data = datamodule({"name": "constant"}, {"name": "custom", "path": str(path)}, n_eval=400)
    seen = data.eval_batches["seen"].individuals.numpy()
    assert len(seen) == 300 and seen.max() < 300

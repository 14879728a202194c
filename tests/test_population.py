import numpy as np
import pytest

from recall.data.population import PopulationConfig, generate_population
from recall.errors import ConfigError
from tests.conftest import ATTRIBUTES


def make(**kw):
    return generate_population(PopulationConfig(**{"attributes": ATTRIBUTES, **kw}))


def test_same_seed_same_population_other_seed_other():
    a, b, c = make(seed=1), make(seed=1), make(seed=2)
    assert a.fingerprint() == b.fingerprint()
    np.testing.assert_array_equal(a.values, b.values)
    assert a.fingerprint() != c.fingerprint()


def test_full_names_unique_across_seen_and_unseen():
    pop = make(n_individuals=30_000, n_unseen=2000, first_names=40, middle_names=40, last_names=60)
    codes = {tuple(row) for row in pop.name_ids}
    assert len(codes) == 32_000
    seen = {pop.full_name(i) for i in range(pop.n_seen)}
    unseen = {pop.full_name(i) for i in range(pop.n_seen, pop.n_seen + pop.n_unseen)}
    assert not seen & unseen


def test_name_words_distinct_across_pools():
    pop = make()
    pools = [pop.names.first, pop.names.middle, pop.names.last]
    assert sum(map(len, pools)) == len(set().union(*pools))


def test_values_are_assigned_uniformly():
    pop = make(n_individuals=50_000, n_unseen=0, first_names=64, middle_names=64, last_names=64)
    for a, attribute in enumerate(pop.attributes):
        k = pop.pools[attribute].cardinality
        counts = np.bincount(pop.values[:, a], minlength=k)
        expected = len(pop.values) / k
        chi2 = ((counts - expected) ** 2 / expected).sum()
        # chi-square with k-1 dof: mean k-1, sd sqrt(2(k-1)); 5 sd is a one-in-millions miss
        assert chi2 < (k - 1) + 5 * np.sqrt(2 * (k - 1)), attribute


def test_multi_token_values_exist():
    pop = make()
    lengths = {len(v) for pool in pop.pools.values() for v in pool.values}
    assert lengths == {1, 2, 3}
    assert all(len(v) == 3 for v in pop.pools["birth_date"].values)


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"n_individuals": 0}, "data.n_individuals=0 must be positive"),
        (
            {"n_individuals": 5000, "first_names": 10, "middle_names": 10, "last_names": 10},
            "name pools too small",
        ),
        ({"attributes": {"shoe_size": 10}}, "unknown attribute 'shoe_size'"),
        ({"templates": 25, "heldout_templates": 25}, "data.heldout_templates=25 must be"),
        ({"attributes": {"birth_date": 100}}, "multiple of 336"),
    ],
)
def test_bad_population_configs_raise_clear_errors(kw, message):
    with pytest.raises(ConfigError, match=message):
        make(**kw)


def test_name_pools_beyond_what_syllables_can_make_are_refused():
    with pytest.raises(ConfigError, match="names of 1/2 syllables requested"):
        make(first_names=6000)

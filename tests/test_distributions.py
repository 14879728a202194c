"""Sampling distributions and data schedules draw individuals with the configured law."""

import warnings

import numpy as np
import pytest

from recall.data.distributions import frequency_buckets, sampling_weights
from recall.data.schedules import build_schedule
from recall.errors import ConfigError

Z_999 = 3.090  # standard normal quantile at 0.999


def chi2_critical(dof: int, z: float = Z_999) -> float:
    """Upper quantile of the chi-square distribution (Wilson-Hilferty approximation)."""
    c = 2 / (9 * dof)
    return dof * (1 - c + z * np.sqrt(c)) ** 3


def fits(counts: np.ndarray, probabilities: np.ndarray) -> bool:
    """Pearson's chi-square goodness-of-fit test at the 0.1 % level."""
    expected = probabilities * counts.sum()
    keep = expected > 0
    assert counts[~keep].sum() == 0, "drew an individual of zero probability"
    statistic = ((counts[keep] - expected[keep]) ** 2 / expected[keep]).sum()
    return statistic < chi2_critical(int(keep.sum()) - 1)


def draw(spec: dict, n: int, size: int = 200_000, seed: int = 0) -> np.ndarray:
    schedule = build_schedule({"name": "constant"}, spec, n)
    individuals = schedule.sample(0, np.random.default_rng(seed), size)
    return np.bincount(individuals, minlength=n)


@pytest.mark.parametrize(
    ("spec", "law"),
    [
        ({"name": "uniform"}, lambda i: np.ones_like(i)),
        ({"name": "power_law", "alpha": 0.8}, lambda i: (i + 1.0) ** -0.8),
        ({"name": "power_law", "alpha": 1.0}, lambda i: 1.0 / (i + 1.0)),
        ({"name": "celebrities", "n": 10, "weight": 8}, lambda i: np.where(i < 10, 8.0, 1.0)),
    ],
)
def test_empirical_frequencies_follow_the_configured_law(spec, law):
    n = 60
    law = law(np.arange(n, dtype=float))
    counts = draw(spec, n)
    assert fits(counts, law / law.sum())


def test_the_frequency_test_rejects_the_wrong_law():
    n = 60
    counts = draw({"name": "power_law", "alpha": 0.8}, n)
    assert not fits(counts, np.full(n, 1 / n))
    nearby = (np.arange(n) + 1.0) ** -0.75  # a close but different exponent
    assert not fits(counts, nearby / nearby.sum())


def test_custom_weights_from_text_and_npy(tmp_path):
    weights = np.array([0.0, 1.0, 2.0, 5.0, 0.5])
    np.savetxt(tmp_path / "w.txt", weights)
    np.save(tmp_path / "w.npy", weights)
    for file in ("w.txt", "w.npy"):
        spec = {"name": "custom", "path": str(tmp_path / file)}
        np.testing.assert_allclose(sampling_weights(spec, 5), weights / weights.sum())
        assert fits(draw(spec, 5), weights / weights.sum())


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("1\n2\n3\n", "holds 3 weights; it needs one per seen individual \\(5\\)"),
        ("1\n-2\n3\n1\n1\n", "finite and >= 0"),
        ("1\nnan\n3\n1\n1\n", "finite and >= 0"),
        ("0\n0\n0\n0\n0\n", "zero weight"),
        ("a\nb\n", "cannot read"),
        ("", "holds 0 weights"),  # and no numpy warning on stderr besides the one line
    ],
)
def test_bad_weights_files(tmp_path, content, message):
    (tmp_path / "w.txt").write_text(content)
    with pytest.raises(ConfigError, match=message), warnings.catch_warnings():
        warnings.simplefilter("error")
        sampling_weights({"name": "custom", "path": str(tmp_path / "w.txt")}, 5)


def test_frequency_buckets_split_by_rank():
    weights = sampling_weights({"name": "power_law", "alpha": 1.0}, 100)
    buckets = frequency_buckets(weights, (0.1, 0.5))
    assert buckets.tolist() == [0] * 10 + [1] * 40 + [2] * 50
    shuffled = np.random.default_rng(0).permutation(weights)  # rank, not index, decides
    head = np.flatnonzero(frequency_buckets(shuffled, (0.1, 0.5)) == 0)
    assert sorted(head) == sorted(np.argsort(-shuffled)[:10])


def schedule_draws(cfg: dict, step: int, n: int = 50, distribution: dict | None = None):
    schedule = build_schedule(cfg, distribution or {"name": "uniform"}, n)
    return np.unique(schedule.sample(step, np.random.default_rng(step), 5000))


def test_warmup_draws_the_subset_then_everyone():
    cfg = {"name": "warmup", "individuals": 7, "steps": 100}
    assert schedule_draws(cfg, 0).tolist() == list(range(7))
    assert schedule_draws(cfg, 99).tolist() == list(range(7))
    assert schedule_draws(cfg, 100).tolist() == list(range(50))


def test_warmup_subset_is_the_most_frequent_under_the_distribution(tmp_path):
    weights = np.arange(1, 51, dtype=float)  # individual 49 is the most frequent
    np.savetxt(tmp_path / "w.txt", weights)
    custom = {"name": "custom", "path": str(tmp_path / "w.txt")}
    cfg = {"name": "warmup", "individuals": 5, "steps": 10}
    assert schedule_draws(cfg, 0, distribution=custom).tolist() == [45, 46, 47, 48, 49]


def test_sequential_groups_one_after_the_other():
    cfg = {"name": "sequential", "groups": 2, "steps_per_group": 30}
    assert schedule_draws(cfg, 0).tolist() == list(range(25))
    assert schedule_draws(cfg, 30).tolist() == list(range(25, 50))
    assert schedule_draws(cfg, 60).tolist() == list(range(50))


def test_piecewise_pieces_with_their_own_distribution():
    cfg = {
        "name": "piecewise",
        "pieces": [
            {"step": 0, "individuals": [10, 20]},
            {"step": 40, "distribution": {"name": "power_law", "alpha": 1.0}},
        ],
    }
    schedule = build_schedule(cfg, {"name": "uniform"}, 50)
    assert schedule_draws(cfg, 39).tolist() == list(range(10, 20))
    np.testing.assert_allclose(
        schedule.weights(1000), sampling_weights({"name": "power_law", "alpha": 1.0}, 50)
    )


def test_schedule_sampling_matches_numpy_choice():
    """The CDF path draws exactly what rng.choice would, so streams stay comparable."""
    schedule = build_schedule({"name": "constant"}, {"name": "power_law", "alpha": 0.6}, 300)
    ours = schedule.sample(0, np.random.default_rng(5), 64)
    theirs = np.random.default_rng(5).choice(300, size=64, p=schedule.weights(0))
    assert ours.tolist() == theirs.tolist()

"""How often each individual is sampled for training, and frequency buckets for evaluation.

A distribution is a config mapping `{name: ..., <parameters>}` (config group
`data/distribution`) turned into one probability per seen individual. Individuals are
ranked by index: under a power law individual 0 is the most frequent, and celebrities
are the first `n` individuals. The population is drawn at random, so the rank carries no
other meaning.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from recall.config import call_registered
from recall.errors import ConfigError

BUCKETS = ("head", "torso", "tail")


def _uniform(n_individuals: int) -> np.ndarray:
    return np.ones(n_individuals)


def _power_law(n_individuals: int, alpha: float) -> np.ndarray:
    """P(i) ∝ (i + 1)^-alpha: alpha = 0 is uniform, alpha = 1 is Zipf."""
    if not alpha >= 0:
        raise ConfigError(f"data.distribution.alpha={alpha} must be >= 0 (0 is uniform)")
    return np.arange(1, n_individuals + 1, dtype=np.float64) ** -float(alpha)


def _celebrities(n_individuals: int, n: int, weight: float) -> np.ndarray:
    """The first `n` individuals are drawn `weight` times more often than the others."""
    if not 0 < n <= n_individuals:
        raise ConfigError(
            f"data.distribution.n={n} must be between 1 and data.n_individuals={n_individuals}"
        )
    if not weight > 0:
        raise ConfigError(f"data.distribution.weight={weight} must be positive")
    weights = np.ones(n_individuals)
    weights[:n] = weight
    return weights


def _custom(n_individuals: int, path: str) -> np.ndarray:
    """Weights from a .npy file or a text file with one number per line."""
    file = Path(path).expanduser()
    try:
        with warnings.catch_warnings():  # an empty file: the length check below says so
            warnings.simplefilter("ignore", UserWarning)
            weights = np.load(file) if file.suffix == ".npy" else np.loadtxt(file, ndmin=1)
    except (OSError, ValueError) as err:
        raise ConfigError(f"cannot read data.distribution.path={path}: {err}") from None
    weights = np.asarray(weights, dtype=np.float64).ravel()
    if len(weights) != n_individuals:
        raise ConfigError(
            f"data.distribution.path={path} holds {len(weights)} weights; "
            f"it needs one per seen individual ({n_individuals})"
        )
    if not np.isfinite(weights).all() or (weights < 0).any():
        raise ConfigError(f"data.distribution.path={path}: weights must be finite and >= 0")
    return weights


DISTRIBUTIONS: dict[str, Callable[..., np.ndarray]] = {
    "uniform": _uniform,
    "power_law": _power_law,
    "celebrities": _celebrities,
    "custom": _custom,
}


def sampling_weights(
    spec: Mapping[str, Any], n_individuals: int, path: str = "data.distribution"
) -> np.ndarray:
    """Probability of drawing each seen individual, from a distribution config mapping at
    config `path` (named in errors)."""
    weights = call_registered(DISTRIBUTIONS, spec, path, n_individuals)
    if weights.sum() <= 0:
        raise ConfigError(f"{path} gives every individual zero weight")
    return weights / weights.sum()


def frequency_rank(weights: np.ndarray) -> np.ndarray:
    """Individuals from the most to the least frequent (ties in index order)."""
    return np.argsort(-weights, kind="stable")


def frequency_buckets(weights: np.ndarray, edges: tuple[float, float]) -> np.ndarray:
    """Bucket index (0 head, 1 torso, 2 tail) of each individual by frequency rank.

    With edges (0.1, 0.5), the head is the 10 % most frequent individuals, the torso the
    next 40 %, the tail the remaining half.
    """
    ranks = np.empty(len(weights), dtype=np.int64)
    ranks[frequency_rank(weights)] = np.arange(len(weights))
    quantile = ranks / len(weights)
    return np.searchsorted(np.asarray(edges), quantile, side="right")

"""How often each individual is sampled for training."""

from __future__ import annotations

import numpy as np

from recall.errors import ConfigError

DISTRIBUTIONS = ("uniform",)


def sampling_weights(name: str, n_individuals: int) -> np.ndarray:
    """Probability of drawing each seen individual in a training sequence."""
    if name == "uniform":
        return np.full(n_individuals, 1.0 / n_individuals)
    raise ConfigError(f"unknown distribution {name!r} (known: {', '.join(DISTRIBUTIONS)})")

"""Plateau length against population size: plateau ≈ a · N^b, as the study fits it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PowerLaw:
    """plateau ≈ a · N^b, fitted on log(plateau) = log(a) + b log(N)."""

    a: float
    b: float
    r2: float
    n: np.ndarray
    plateau: np.ndarray

    def __call__(self, n: np.ndarray) -> np.ndarray:
        return self.a * np.asarray(n, dtype=float) ** self.b


def fit_power_law(n: Sequence[float], plateau: Sequence[float]) -> PowerLaw | None:
    """Least-squares fit in log-log space over distinct N; None if fewer than 3 sizes."""
    n, plateau = np.asarray(n, dtype=float), np.asarray(plateau, dtype=float)
    if len(np.unique(n)) < 3:
        return None
    x, y = np.log(n), np.log(plateau)
    b, log_a = np.polyfit(x, y, 1)
    residual = y - (log_a + b * x)
    r2 = 1 - (residual**2).sum() / ((y - y.mean()) ** 2).sum()
    return PowerLaw(float(np.exp(log_a)), float(b), float(r2), n, plateau)

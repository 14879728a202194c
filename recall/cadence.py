"""When to evaluate: every k steps or log-spaced, set once and shared by everything.

`dense_until` adds every step up to it, for dynamics that happen in the first few steps
(e.g. forgetting at the start of fine-tuning).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recall.errors import ConfigError


@dataclass(frozen=True)
class Cadence:
    every: int = 50  # linear spacing: evaluate every `every` steps
    spacing: str = "linear"  # "linear" or "log"
    n_points: int = 40  # log spacing: about this many evaluations
    dense_until: int = 0  # also every step in [0, dense_until]

    def __post_init__(self) -> None:
        if self.spacing not in ("linear", "log"):
            raise ConfigError(f"eval.spacing={self.spacing!r} must be 'linear' or 'log'")
        if self.every <= 0 or self.n_points <= 1:
            raise ConfigError("eval.every must be positive and eval.n_points at least 2")
        if self.dense_until < 0:
            raise ConfigError(f"eval.dense_until={self.dense_until} must be zero or positive")

    def steps(self, max_steps: int) -> list[int]:
        """Evaluation steps in [0, max_steps], always including both ends."""
        if self.spacing == "linear":
            points = np.arange(0, max_steps + 1, self.every)
        else:
            points = np.round(np.geomspace(1, max_steps, self.n_points - 1))
        dense = range(min(self.dense_until, max_steps) + 1)
        return sorted({0, max_steps, *map(int, points), *dense})

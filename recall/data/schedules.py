"""Data schedules: which individuals are sampled, and how often, at each training step.

A schedule (config group `schedule`) is piecewise constant in the step: a list of pieces,
each starting at a step with a distribution (the run's `data.distribution` unless it
names another) optionally restricted to a subset of individuals, given by frequency rank
under `data.distribution` (`individuals: k` is the k most frequent, `[a, b]` the ranks
a..b-1). The named schedules are shorthands for such lists:

constant    one piece: the data distribution throughout
warmup      the `individuals` most frequent only for `steps` steps, then everyone
sequential  `groups` equal rank groups, `steps_per_group` steps each, then everyone
piecewise   the list itself, under `pieces`

The weights depend on the step alone, so a resumed run continues the schedule exactly.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from recall.config import call_registered
from recall.data.distributions import frequency_rank, sampling_weights
from recall.errors import ConfigError


class Schedule:
    """Sampling weights per step, with the cumulative sums needed to draw from them.

    `base` is the data distribution's weights, which define frequency ranks and buckets
    whatever the schedule does.
    """

    def __init__(
        self, starts: Sequence[int], weights: Sequence[np.ndarray], base: np.ndarray
    ) -> None:
        self.starts, self.base = list(starts), base
        self._weights = list(weights)
        self._cdfs = []
        for w in self._weights:
            cdf = np.cumsum(w)
            self._cdfs.append(cdf / cdf[-1])

    def _piece(self, step: int) -> int:
        return bisect.bisect_right(self.starts, step) - 1

    def weights(self, step: int) -> np.ndarray:
        return self._weights[self._piece(step)]

    def weights_after(self, steps: int) -> np.ndarray:
        """The weights in force at the last of `steps` trained steps (the first's for 0):
        the marginal a run (or a checkpoint) has settled on."""
        return self.weights(max(steps - 1, 0))

    def sample(self, step: int, rng: np.random.Generator, size: int) -> np.ndarray:
        """Individuals for one batch; the same draws as rng.choice(n, size, p=weights)."""
        return self._cdfs[self._piece(step)].searchsorted(rng.random(size), side="right")


def build_schedule(
    cfg: Mapping[str, Any], distribution: Mapping[str, Any], n_individuals: int
) -> Schedule:
    """The schedule of a `schedule` config, over a population sampled by `distribution`."""
    pieces = call_registered(SCHEDULES, cfg, "schedule", n_individuals)
    base = sampling_weights(distribution, n_individuals)
    rank = frequency_rank(base)
    starts, weights = [], []
    for i, piece in enumerate(pieces):
        unknown = set(piece) - {"step", "distribution", "individuals"}
        if unknown or "step" not in piece:
            raise ConfigError(
                f"schedule piece {i} needs 'step' and may have 'distribution' and "
                f"'individuals'; got {', '.join(map(str, piece))}"
            )
        step = int(piece["step"])
        if (i == 0 and step != 0) or (i > 0 and step <= starts[-1]):
            raise ConfigError(
                "schedule pieces must start at step 0 and have increasing steps; "
                f"piece {i} starts at {step}"
            )
        spec = piece.get("distribution")
        where = f"schedule.pieces[{i}].distribution"
        w = base if spec is None else sampling_weights(spec, n_individuals, where)
        subset = piece.get("individuals")
        if subset is not None:
            w = _restrict(w, rank[_rank_slice(subset, n_individuals, i)])
        starts.append(step)
        weights.append(w)
    return Schedule(starts, weights, base)


def _rank_slice(subset: Any, n: int, i: int) -> slice:
    lo, hi = (0, subset) if isinstance(subset, int) else tuple(subset)
    if not 0 <= lo < hi <= n:
        raise ConfigError(
            f"schedule piece {i}: individuals={subset} must select ranks within 0..{n} "
            "(an int k for the k most frequent, or [start, end])"
        )
    return slice(lo, hi)


def _restrict(weights: np.ndarray, keep: np.ndarray) -> np.ndarray:
    restricted = np.zeros_like(weights)
    restricted[keep] = weights[keep]
    if restricted.sum() <= 0:
        raise ConfigError("a schedule piece selects only individuals of zero weight")
    return restricted / restricted.sum()


def _constant(n: int) -> list[dict]:
    return [{"step": 0}]


def _warmup(n: int, individuals: int, steps: int) -> list[dict]:
    if not 0 < individuals <= n or steps <= 0:
        raise ConfigError(
            f"schedule: warmup needs 0 < individuals <= data.n_individuals={n} and steps > 0"
        )
    return [{"step": 0, "individuals": individuals}, {"step": steps}]


def _sequential(n: int, groups: int, steps_per_group: int) -> list[dict]:
    if not 0 < groups <= n or steps_per_group <= 0:
        raise ConfigError(
            f"schedule: sequential needs 0 < groups <= data.n_individuals={n} and "
            "steps_per_group > 0"
        )
    edges = np.linspace(0, n, groups + 1).round().astype(int)
    pieces = [
        {"step": g * steps_per_group, "individuals": [int(edges[g]), int(edges[g + 1])]}
        for g in range(groups)
    ]
    return [*pieces, {"step": groups * steps_per_group}]


def _piecewise(n: int, pieces: list[dict]) -> list[dict]:
    if not pieces:
        raise ConfigError("schedule: piecewise needs a non-empty list of pieces")
    return [dict(p) for p in pieces]


SCHEDULES = {
    "constant": _constant,
    "warmup": _warmup,
    "sequential": _sequential,
    "piecewise": _piecewise,
}

"""The three phases of fact learning, detected on an attribute-loss curve.

statistics: from step 0 until the loss first comes within `statistics_tolerance` of the
no-knowledge baseline. plateau: from there until knowledge onset, the first evaluation
from which the loss stays `knowledge_margin` below the baseline for `patience`
consecutive evaluations (so one noisy dip does not count). knowledge acquisition: after.
Tolerances are relative to the baseline, so they mean the same for any value pool sizes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from recall.errors import ConfigError


@dataclass(frozen=True)
class PhaseConfig:
    statistics_tolerance: float = 0.05  # loss <= (1 + tol) * baseline ends the statistics phase
    knowledge_margin: float = 0.05  # loss <= (1 - margin) * baseline signals knowledge
    patience: int = 2  # consecutive evaluations that must confirm knowledge onset

    def __post_init__(self) -> None:
        if self.statistics_tolerance < 0 or not 0 < self.knowledge_margin < 1 or self.patience < 1:
            raise ConfigError(
                "phases: statistics_tolerance >= 0, 0 < knowledge_margin < 1, patience >= 1"
            )

    def thresholds(self, baseline: float) -> tuple[float, float]:
        """The losses at which knowledge shows (at or below the first) and the statistics
        phase ends (at or below the second); a plateau lies between them."""
        return (1 - self.knowledge_margin) * baseline, (1 + self.statistics_tolerance) * baseline


@dataclass(frozen=True)
class Phases:
    baseline: float
    statistics_end_step: int | None
    knowledge_onset_step: int | None  # = plateau length; None if knowledge never appeared
    settings: PhaseConfig

    @property
    def plateau_steps(self) -> int | None:
        """Steps spent on the plateau, from the statistics end to knowledge onset."""
        if self.statistics_end_step is None or self.knowledge_onset_step is None:
            return None
        return self.knowledge_onset_step - self.statistics_end_step

    def to_dict(self) -> dict:
        return {
            "baseline": self.baseline,
            "statistics_end_step": self.statistics_end_step,
            "knowledge_onset_step": self.knowledge_onset_step,
            "plateau_length": self.knowledge_onset_step,
            "plateau_steps": self.plateau_steps,
            "detector": asdict(self.settings),
        }


def detect_phases(
    steps: Sequence[int], attr_loss: Sequence[float], baseline: float, config: PhaseConfig
) -> Phases:
    """Phase boundaries of an evaluation curve (steps ascending)."""
    steps, loss = np.asarray(steps), np.asarray(attr_loss, dtype=float)
    knowing, near_baseline = config.thresholds(baseline)
    near = np.flatnonzero(loss <= near_baseline)
    statistics_end = int(steps[near[0]]) if len(near) else None
    onset = None
    if statistics_end is not None:
        below = loss <= knowing
        for i in range(near[0], len(loss) - config.patience + 1):
            if below[i : i + config.patience].all():
                onset = int(steps[i])
                break
    return Phases(baseline, statistics_end, onset, config)

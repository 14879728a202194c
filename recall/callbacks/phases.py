"""Live phase tracking: the current phase as a scalar, boundaries marked when found.

Runs the same detector as the final phases.json (recall.phases) on the evaluations so
far, so a researcher watching TensorBoard sees the statistics phase end and knowledge
onset as they are confirmed, each with the phase figure up to that step (and the final
one when training ends). Its history survives checkpoint resume.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import lightning as L

from recall.callbacks.base import DynamicsCallback, tensorboards
from recall.phases import PhaseConfig, detect_phases
from recall.plots.phase_plot import phases_figure

if TYPE_CHECKING:
    from recall.metrics import AttributeScores
    from recall.model.module import RecallModule

PHASE_IDS = {"statistics": 0, "plateau": 1, "knowledge": 2}


class PhaseTracker(DynamicsCallback):
    """Logs `phase` (0 statistics, 1 plateau, 2 knowledge acquisition) at every
    evaluation; a TensorBoard text marker and phase figure when a boundary is first
    detected, and the final figure at the end. With `stop_at_onset`, training ends at the
    evaluation that confirms knowledge onset: a sweep over plateau lengths spends no steps
    after what it measures."""

    def __init__(self, config: PhaseConfig, stop_at_onset: bool = False) -> None:
        self.config = config
        self.stop_at_onset = stop_at_onset
        self.steps: list[int] = []
        self.losses: list[float] = []
        self.accs: list[float] = []
        self.marked: dict[str, int] = {}

    def on_evaluation(
        self, trainer: L.Trainer, module: RecallModule, scores: dict[str, AttributeScores]
    ) -> dict[str, float]:
        step = module.global_step
        if self.steps and step <= self.steps[-1]:  # resumed: drop evaluations to be redone
            keep = sum(s < step for s in self.steps)
            self.steps, self.losses, self.accs = (x[:keep] for x in self._history)
        self.steps.append(step)
        self.losses.append(scores["seen"].attr_loss)
        self.accs.append(scores["seen"].attr_acc)
        phases = detect_phases(self.steps, self.losses, module.baseline, self.config)
        phase = "statistics"
        for name, boundary in (
            ("plateau", phases.statistics_end_step),
            ("knowledge", phases.knowledge_onset_step),
        ):
            if boundary is None:
                break
            phase = name
            if name not in self.marked:
                self.marked[name] = boundary
                self._mark(trainer, step, f"{name} begins at step {boundary}")
                self._log_figure(trainer, module, step)
        if self.stop_at_onset and phases.knowledge_onset_step is not None:
            trainer.should_stop = True
        return {"phase": PHASE_IDS[phase]}

    def on_train_end(self, trainer: L.Trainer, module: RecallModule) -> None:
        if self.steps:
            self._log_figure(trainer, module, self.steps[-1])

    @property
    def _history(self) -> tuple[list, list, list]:
        return self.steps, self.losses, self.accs

    def _mark(self, trainer: L.Trainer, step: int, text: str) -> None:
        for logger in tensorboards(trainer):
            logger.experiment.add_text("phases", text, step)

    def _log_figure(self, trainer: L.Trainer, module: RecallModule, step: int) -> None:
        loggers = tensorboards(trainer)
        if not loggers:
            return
        phases = detect_phases(self.steps, self.losses, module.baseline, self.config)
        fig = phases_figure(self.steps, self.losses, self.accs, phases)
        for logger in loggers:
            logger.experiment.add_figure("phases/figure", fig, step, close=False)

    def state_dict(self) -> dict:
        return {
            "steps": self.steps,
            "losses": self.losses,
            "accs": self.accs,
            "marked": self.marked,
        }

    def load_state_dict(self, state_dict: dict) -> None:
        self.steps, self.losses = state_dict["steps"], state_dict["losses"]
        self.accs = state_dict.get("accs", [float("nan")] * len(self.steps))  # older checkpoints
        self.marked = state_dict["marked"]

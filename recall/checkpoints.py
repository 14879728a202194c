"""Checkpoints of a run: weights kept for analyses, and the full state to resume from.

Every file is written under a temporary name and moved into place, so a run killed
while saving still has its previous checkpoints intact and can resume.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import lightning as L
import torch

from recall.errors import ConfigError

INITIAL_CHECKPOINT = "step000000.ckpt"


class RunCheckpoints(L.Callback):
    """The weights at step 0, every `every` steps and at the end (stepNNNNNN.ckpt, kept for
    analyses and attention patching; weights only, a third of the full state), and the full
    training state at the same steps (last.ckpt, overwritten, to resume from)."""

    def __init__(self, folder: Path, every: int) -> None:
        self.folder, self.every = folder, every
        self.saved_step: int | None = None

    def on_train_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        if trainer.global_step == 0:
            self.save(trainer)

    def on_train_batch_end(self, trainer: L.Trainer, module: L.LightningModule, *args: Any) -> None:
        if trainer.global_step % self.every == 0:
            if evaluate := getattr(module, "evaluate_if_due", None):
                evaluate()  # before saving: the saved state holds this step's evaluation
            self.save(trainer)

    def save(self, trainer: L.Trainer) -> None:
        """Save the current step (once; every DDP process calls it, rank 0 writes)."""
        if self.saved_step == trainer.global_step:
            return
        self.saved_step = trainer.global_step
        for logger in self.loggers(trainer):  # metrics.csv holds every row up to here
            logger.save()
        self.save_weights(trainer)
        if trainer.global_step > 0:
            self._save_atomically(trainer, self.folder / "last.ckpt")

    def loggers(self, trainer: L.Trainer) -> list[Any]:
        """The loggers whose files must be complete when the checkpoint is."""
        return trainer.loggers

    def save_weights(self, trainer: L.Trainer) -> None:
        """stepNNNNNN.ckpt: the weights at this step, for analyses and patching."""
        self._save_atomically(trainer, weights_file(self.folder, trainer.global_step), True)

    @staticmethod
    def _save_atomically(trainer: L.Trainer, path: Path, weights_only: bool = False) -> None:
        """Save under a temporary name, then move into place: a kill during the write
        leaves the previous checkpoint intact, never a truncated one."""
        partial = partial_file(path)
        trainer.save_checkpoint(partial, weights_only=weights_only)  # rank 0 writes
        if trainer.is_global_zero:
            os.replace(partial, path)


def weights_file(folder: Path, step: int) -> Path:
    return folder / f"step{step:06d}.ckpt"


def partial_file(path: Path) -> Path:
    """Where `path` is written before it is moved into place."""
    return path.with_name(f".{path.name}.partial")


def checkpoint_step(path: str) -> int:
    """The training step a checkpoint was saved at; a damaged file is a ConfigError."""
    return _load(path)[1]


def resumable_step(path: str) -> int:
    """The step a run resumes from. A weights-only checkpoint (stepNNNNNN.ckpt, kept for
    analyses) has no optimizer or loop state to resume: refused here, before the run folder
    is touched, with the file that has them."""
    checkpoint, step = _load(path)
    if "optimizer_states" not in checkpoint or "loops" not in checkpoint:
        raise ConfigError(
            f"{path} holds weights only (kept for analyses); resume from "
            f"{Path(path).with_name('last.ckpt')}, the run's full training state"
        )
    return step


def _load(path: str) -> tuple[dict[str, Any], int]:
    """A checkpoint's contents and step; a damaged or foreign file is a ConfigError."""
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        return checkpoint, int(checkpoint["global_step"])
    except UNREADABLE as err:
        raise unreadable(path, err) from None


UNREADABLE = (OSError, KeyError, TypeError, RuntimeError, pickle.UnpicklingError)
"""What torch.load and reading a checkpoint's contents raise for a damaged or foreign file."""


def unreadable(path: str | Path, err: Exception) -> ConfigError:
    """One line for a checkpoint that cannot be read: the reason's first sentence."""
    reason = str(err).split(". ")[0].splitlines()[0] if str(err) else type(err).__name__
    return ConfigError(f"{path} is not a readable recall checkpoint ({reason})")

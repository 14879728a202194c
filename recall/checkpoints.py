"""Checkpoints of a run: weights kept for analyses, and the full state to resume from.

Every file is written under a temporary name and moved into place, so a run killed
while saving still has its previous checkpoints intact and can resume.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import lightning as L
import torch

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

    def on_train_batch_end(self, trainer: L.Trainer, *args: Any) -> None:
        if trainer.global_step % self.every == 0:
            self.save(trainer)

    def save(self, trainer: L.Trainer) -> None:
        """Save the current step (once; every DDP process calls it, rank 0 writes)."""
        if self.saved_step == trainer.global_step:
            return
        self.saved_step = trainer.global_step
        weights = self.folder / f"step{trainer.global_step:06d}.ckpt"
        self._save_atomically(trainer, weights, weights_only=True)
        if trainer.global_step > 0:
            self._save_atomically(trainer, self.folder / "last.ckpt")

    @staticmethod
    def _save_atomically(trainer: L.Trainer, path: Path, weights_only: bool = False) -> None:
        """Save under a temporary name, then move into place: a kill during the write
        leaves the previous checkpoint intact, never a truncated one."""
        partial = path.with_name(f".{path.name}.partial")
        trainer.save_checkpoint(partial, weights_only=weights_only)  # rank 0 writes
        if trainer.is_global_zero:
            os.replace(partial, path)


def checkpoint_step(path: str) -> int:
    return int(torch.load(path, map_location="cpu", weights_only=True)["global_step"])

"""Loggers writing into the run folder, appending (not overwriting) when a run resumes.

TensorBoard's Time Series page orders its sections by tag name, so per-head attention
cards (attn/...) come before the loss and its baseline. The run's TensorBoard folder
therefore also gets a custom-scalars layout (the Custom Scalars tab): the phase picture
first (attribute loss with the no-knowledge baseline in one chart, accuracy, phase), then
the circuits per layer, hallucination and frequency buckets, the circuits per head in
their own group, and fine-tuning last. Tag names stay those of metrics.csv.
"""

from __future__ import annotations

import csv
from pathlib import Path

from lightning.fabric.loggers.logger import rank_zero_experiment
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from torch.utils.tensorboard import SummaryWriter

from recall.callbacks.attention import CIRCUITS, METRICS


def _chart(*tags: str) -> list:
    """A custom-scalars chart of every tag matching one of these regular expressions."""
    return ["Multiline", list(tags)]


TENSORBOARD_LAYOUT = {
    "1 phases": {
        "attribute loss vs no-knowledge baseline": _chart(
            r"^seen/attr_loss$", r"^baseline$", r"^baseline_uniform$"
        ),
        "attribute accuracy": _chart(r"^seen/attr_acc$"),
        "phase (0 statistics, 1 plateau, 2 knowledge)": _chart(r"^phase$"),
        "training loss": _chart(r"^train/loss$"),
    },
    "2 circuits per layer (head mean, best head, chance)": {
        **{name: _chart(rf"^attn/{name}/layer\d+(/best|/chance)?$") for name in CIRCUITS},
        "entropy": _chart(r"^attn/entropy/layer\d+$"),
    },
    "3 hallucination": {
        "unseen attribute loss vs baseline": _chart(r"^unseen/attr_loss$", r"^unseen/baseline$"),
        "max prob, seen and unseen": _chart(r"^(seen|unseen)/max_prob$"),
        "entropy, seen and unseen": _chart(r"^(seen|unseen)/entropy$"),
        "hallucination rate, seen and unseen": _chart(r"^(seen|unseen)/hallucination_rate$"),
    },
    "4 frequency buckets": {
        "accuracy by bucket": _chart(r"^seen/attr_acc/(head|torso|tail)$"),
        "attribute loss by bucket": _chart(r"^seen/attr_loss/(head|torso|tail)$"),
    },
    "5 circuits per head": {name: _chart(rf"^attn/{name}/layer\d+/head\d+$") for name in METRICS},
    "6 fine-tuning": {
        "old and new attribute accuracy": _chart(r"^(old|new)/attr_acc$"),
        "old and new attribute loss": _chart(r"^(old|new)/attr_loss$"),
        "attention drift": _chart(r"^attn_drift/.*$"),
    },
}


class _ResumingWriter(ExperimentWriter):
    """Keeps metrics.csv rows up to the resume step instead of deleting the file."""

    def __init__(self, log_dir: str, resume_step: int | None) -> None:
        self.resume_step = resume_step
        super().__init__(log_dir)

    def _check_log_dir_exists(self) -> None:
        path = Path(self.metrics_file_path)
        if not path.is_file():
            return
        if self.resume_step is None:
            path.unlink()
            return
        with path.open(newline="") as f:
            reader = csv.DictReader(f)
            self.metrics_keys = list(reader.fieldnames or [])
            kept = [row for row in reader if int(row["step"]) <= self.resume_step]
        with path.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=self.metrics_keys)
            writer.writeheader()
            writer.writerows(kept)


class RunCSVLogger(CSVLogger):
    """metrics.csv directly in the run folder; on resume, rows after the checkpoint are
    dropped (they will be logged again) and new rows are appended."""

    def __init__(self, run_dir: Path, resume_step: int | None = None) -> None:
        super().__init__(save_dir=str(run_dir), name="", version="")
        self._resume_step = resume_step

    @property
    @rank_zero_experiment
    def experiment(self) -> ExperimentWriter:
        if self._experiment is None:
            self._experiment = _ResumingWriter(self.log_dir, self._resume_step)
        return self._experiment


class RunTensorBoardLogger(TensorBoardLogger):
    """TensorBoard events in <run>/tensorboard, with the custom-scalars layout written when
    the event file is opened (on rank 0; again on resume, which TensorBoard merges)."""

    @property
    def experiment(self) -> SummaryWriter:
        opening = self._experiment is None
        experiment = super().experiment
        if opening and self._experiment is not None:
            experiment.add_custom_scalars(TENSORBOARD_LAYOUT)
        return experiment


def run_loggers(run_dir: Path, resume_step: int | None = None) -> list:
    """CSV and TensorBoard loggers; TensorBoard purges events after the resume step."""
    purge = {"purge_step": resume_step + 1} if resume_step is not None else {}
    tensorboard = RunTensorBoardLogger(
        save_dir=str(run_dir), name="tensorboard", version="", default_hp_metric=False, **purge
    )
    return [RunCSVLogger(run_dir, resume_step), tensorboard]

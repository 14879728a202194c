"""Loggers writing into the run folder, appending (not overwriting) when a run resumes."""

from __future__ import annotations

import csv
from pathlib import Path

from lightning.fabric.loggers.logger import rank_zero_experiment
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter


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


def run_loggers(run_dir: Path, resume_step: int | None = None) -> list:
    """CSV and TensorBoard loggers; TensorBoard purges events after the resume step."""
    purge = {"purge_step": resume_step + 1} if resume_step is not None else {}
    tensorboard = TensorBoardLogger(
        save_dir=str(run_dir), name="tensorboard", version="", default_hp_metric=False, **purge
    )
    return [RunCSVLogger(run_dir, resume_step), tensorboard]

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
import io
from argparse import Namespace
from pathlib import Path
from typing import Any

from lightning.pytorch.core.saving import save_hparams_to_yaml
from lightning.pytorch.loggers import Logger, TensorBoardLogger
from lightning.pytorch.utilities import rank_zero_only
from torch import Tensor
from torch.utils.tensorboard import SummaryWriter

from recall.callbacks.attention import CIRCUITS, METRICS
from recall.runs import read_metrics, write_atomically


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


class RunCSVLogger(Logger):
    """metrics.csv directly in the run folder: one row per logging call, with its step, and
    a column for every metric logged so far (sorted). On resume, rows logged after the
    checkpoint are dropped (they will be logged again) and new rows are appended.

    Written on Lightning's public `Logger` interface rather than by overriding its
    CSVLogger's private file handling: rows are buffered and written at `save` (every
    checkpoint, every `flush_every` rows, at the end); a new column rewrites the file
    under a temporary name and moves it into place, so a kill leaves a whole file.
    """

    def __init__(self, run_dir: Path, resume_step: int | None = None, flush_every: int = 50):
        super().__init__()
        self.run_dir, self.path = run_dir, run_dir / "metrics.csv"
        self.flush_every = flush_every
        self._pending: list[dict[str, Any]] = []
        self._columns: list[str] = []
        if self.path.is_file() and rank_zero_only.rank == 0:
            if resume_step is None:
                self.path.unlink()
            else:
                columns, rows = read_metrics(self.path)
                self._rewrite(columns, [r for r in rows if before_checkpoint(r, resume_step)])

    @property
    def name(self) -> str:
        return ""

    @property
    def version(self) -> str:
        return ""

    @property
    def log_dir(self) -> str:
        return str(self.run_dir)

    @rank_zero_only
    def log_hyperparams(self, params: dict[str, Any] | Namespace, *args: Any, **kw: Any) -> None:
        params = vars(params) if isinstance(params, Namespace) else dict(params)
        save_hparams_to_yaml(self.run_dir / "hparams.yaml", params)

    @rank_zero_only
    def log_metrics(self, metrics: dict[str, Any], step: int | None = None) -> None:
        values = {k: v.item() if isinstance(v, Tensor) else v for k, v in metrics.items()}
        self._pending.append({**values, "step": step})
        if len(self._pending) >= self.flush_every:
            self.save()

    @rank_zero_only
    def save(self) -> None:
        if not self._pending:
            return
        new = sorted({k for row in self._pending for k in row} - set(self._columns))
        if new or not self.path.is_file():
            _, rows = read_metrics(self.path) if self.path.is_file() else ([], [])
            self._rewrite(sorted({*self._columns, *new}), rows + self._pending)
        else:
            with self.path.open("a", newline="") as f:
                csv.DictWriter(f, fieldnames=self._columns).writerows(self._pending)
        self._pending = []

    @rank_zero_only
    def finalize(self, status: str) -> None:
        self.save()

    def _rewrite(self, columns: list[str], rows: list[dict[str, Any]]) -> None:
        self._columns = columns
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
        write_atomically(self.path, text.getvalue())


def before_checkpoint(row: dict[str, str], step: int) -> bool:
    """Whether a metrics.csv row was logged before the checkpoint at `step`. Evaluations of
    step s are; the training loss labelled s is the loss of the batch that takes the
    weights from s to s + 1 updates, logged after that checkpoint and again on resume."""
    return int(row["step"]) < step or (int(row["step"]) == step and not row.get("train/loss"))


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

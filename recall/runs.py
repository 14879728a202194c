"""A run folder: everything a run leaves, so plots and notebooks never need the process.

    <run>/config.yaml          resolved config        <run>/corpus.json   seed, fingerprint
    <run>/tokenizer.json       the corpus tokenizer (Hugging Face `tokenizers` format)
    <run>/metrics.csv          step + one column per metric (Lightning CSV format)
    <run>/tensorboard/         event files            <run>/checkpoints/  weights + last.ckpt
    <run>/phases.json          phase boundaries       <run>/phase_plot.png
    <run>/interference.json    fine-tuning runs: old/new accuracy, in place of phases.json
    <run>/interference_plot.png
A run is finished when its summary (phases.json or interference.json) exists; an
interrupted training run has none and can be resumed.
"""

from __future__ import annotations

import contextlib
import csv
import itertools
import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml
from omegaconf import DictConfig, OmegaConf

from recall.checkpoints import INITIAL_CHECKPOINT
from recall.config import to_dataclasses
from recall.data.corpus import Corpus
from recall.data.datamodule import LoaderConfig
from recall.data.population import PopulationConfig, generate_population
from recall.errors import ConfigError
from recall.phases import PhaseConfig, Phases, detect_phases

DAMAGED = "restore the file or train the run again"


@dataclass(frozen=True)
class RunFolder:
    path: Path

    config = property(lambda self: self.path / "config.yaml")
    corpus = property(lambda self: self.path / "corpus.json")
    tokenizer = property(lambda self: self.path / "tokenizer.json")
    metrics = property(lambda self: self.path / "metrics.csv")
    tensorboard = property(lambda self: self.path / "tensorboard")
    checkpoints = property(lambda self: self.path / "checkpoints")
    phases = property(lambda self: self.path / "phases.json")
    phase_plot = property(lambda self: self.path / "phase_plot.png")
    interference = property(lambda self: self.path / "interference.json")
    interference_plot = property(lambda self: self.path / "interference_plot.png")

    @property
    def finished(self) -> bool:
        return self.phases.exists() or self.interference.exists()

    @property
    def is_ensemble(self) -> bool:
        """An ensemble's own folder (recall.ensemble): its members are run folders inside."""
        config = self.load_config()
        return bool(config.get("seeds") or config.get("members"))

    @property
    def is_finetuning(self) -> bool:
        """Made by recall-finetune (its corpus.json records the checkpoint it started from)."""
        return "started_from" in self.read_json(self.corpus)

    @classmethod
    def of_checkpoint(cls, checkpoint: str | Path) -> RunFolder:
        """The run a checkpoint belongs to (<run>/checkpoints/<name>.ckpt)."""
        checkpoint = Path(checkpoint)
        if not checkpoint.is_file():
            raise ConfigError(f"checkpoint not found: {checkpoint}; give an existing .ckpt file")
        run = cls(checkpoint.resolve().parent.parent)
        if not run.config.is_file():
            raise ConfigError(
                f"{checkpoint} is not in a run folder's checkpoints/ (no {run.config}); give "
                "<run>/checkpoints/last.ckpt"
            )
        return run

    def load_config(self) -> DictConfig:
        """The run's resolved config.yaml; a damaged file is a one-line ConfigError."""
        try:
            return OmegaConf.load(self.config)
        except yaml.YAMLError as err:
            reason = str(err).splitlines()[0]
            raise ConfigError(f"{self.config} is not a readable config ({reason})") from None

    def curve(self, metric: str) -> tuple[np.ndarray, np.ndarray]:
        """(steps, values) of one metric, rows where it was logged, in step order."""
        steps, values = [], []
        for row in read_metrics(self.metrics)[1]:
            if row.get(metric) not in (None, ""):
                steps.append(int(row["step"]))
                values.append(float(row[metric]))
        order = np.argsort(steps, kind="stable")
        return np.asarray(steps)[order], np.asarray(values)[order]

    def columns(self, prefix: str = "") -> list[str]:
        """Metrics in metrics.csv whose names start with `prefix`, in logging order."""
        with self.metrics.open(newline="") as f:
            header = next(csv.reader(f), [])
        return [c for c in header if c.startswith(prefix) and c != "step"]

    def detected_phases(self) -> Phases:
        """Phase boundaries of a training run's seen attribute loss, by its own detector
        settings (the same as its phases.json, also while the run is still going)."""
        settings = self.load_config().phases
        steps, loss = self.curve("seen/attr_loss")
        baseline = self.read_json(self.corpus)["baseline"]
        return detect_phases(steps, loss, baseline, PhaseConfig(**settings))

    def read_json(self, path: Path) -> dict:
        try:
            return json.loads(path.read_text())
        except json.JSONDecodeError as err:
            damaged = f"{path} is not valid JSON ({err}); the run folder is damaged"
            raise ConfigError(damaged) from None

    def write_json(self, path: Path, data: dict) -> None:
        write_atomically(path, json.dumps(data, indent=2, default=_json_default) + "\n")


def read_metrics(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """A metrics.csv's header and rows, each row checked whole. A last row cut short is
    what a kill while rows were appended leaves: it is left out (a resume logs it again).
    A header without `step` or a bad row before the last means the file was damaged: a
    one-line ConfigError."""
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        if "step" not in (reader.fieldnames or []):
            raise ConfigError(f"{path} has no header with a step column: {DAMAGED}")
        rows, cut = [], None
        for row in reader:
            if cut is not None:
                raise ConfigError(f"{path} is damaged at line {cut}: {DAMAGED}")
            if None in row or None in row.values() or not row["step"].isdigit():
                cut = reader.line_num
            else:
                rows.append(row)
        return list(reader.fieldnames), rows


def write_atomically(path: Path, text: str) -> None:
    """Write a file under a temporary name and move it into place (os.replace is atomic):
    a kill mid-write leaves the old file or the new one, never a truncated one."""
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text)
    os.replace(partial, path)


def _json_default(value: object) -> object:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def regenerate_corpus(run: RunFolder) -> tuple[Corpus, LoaderConfig]:
    """The corpus a run trained on, regenerated from its config and checked against it."""
    if not run.config.is_file() or not run.corpus.is_file():
        raise ConfigError(f"{run.path} is not a run folder (needs config.yaml and corpus.json)")
    if run.is_finetuning:
        start = Path(run.read_json(run.corpus)["started_from"]["checkpoint"]).parent.parent
        raise ConfigError(
            f"{run.path} is a fine-tuning run, whose corpus is not regenerated from a config; "
            f"give a pre-training run, e.g. the one it started from ({start})"
        )
    config = run.load_config()
    population_config, loader = to_dataclasses(
        config.data, "data", PopulationConfig, LoaderConfig, seed=config.seed
    )
    corpus = Corpus(generate_population(population_config))
    if run.read_json(run.corpus)["fingerprint"] != corpus.population.fingerprint():
        raise ConfigError(
            f"the corpus regenerated from {run.config} differs from the one the run was "
            "trained on (another recall version?); use the version that trained it"
        )
    return corpus, loader


def new_run_folder(run_dir: str, unique: bool = False) -> RunFolder:
    """An empty, writable run folder at `run_dir` (made if missing).

    With `unique` (a time-stamped name), a folder another run already claimed gets a
    suffix instead (<run_dir>-1, -2, ...): two runs started in the same second with the
    same name write separate folders. The claim is an atomic mkdir.
    """
    run = RunFolder(Path(run_dir).expanduser().absolute())
    if unique:
        run = RunFolder(_claim(run.path))
    elif run.path.exists() and (not run.path.is_dir() or any(run.path.iterdir())):
        raise ConfigError(
            f"run folder {run.path} already exists and is not an empty folder; choose "
            "another run_dir"
        )
    try:
        run.path.mkdir(parents=True, exist_ok=True)
        probe = run.path / ".write_test"
        probe.touch()
        probe.unlink()
    except OSError as err:
        raise ConfigError(
            f"cannot write the run folder {run.path} ({err.strerror}); "
            "set run_dir= to a writable folder"
        ) from None
    return run


def _claim(path: Path) -> Path:
    """The first of path, path-1, path-2, ... that this call creates itself."""
    for k in itertools.count():
        candidate = path if k == 0 else path.with_name(f"{path.name}-{k}")
        try:
            candidate.parent.mkdir(parents=True, exist_ok=True)
            candidate.mkdir()
            return candidate
        except FileExistsError:
            continue
        except OSError:
            return candidate  # unwritable: new_run_folder says so in one line
    raise AssertionError("unreachable")


def timestamped(cfg: DictConfig, key: str = "run_dir") -> bool:
    """Whether the config's `key` is a ${now:...} pattern (the default run_dir), whose
    collisions are resolved by a suffix rather than refused."""
    return "${now:" in str(OmegaConf.to_container(cfg, resolve=False).get(key))


@contextmanager
def folder_written_atomically(out: Path, option: str) -> Iterator[Path]:
    """A private temporary folder beside `out` to write into; renamed to `out` when the
    block completes, removed if it fails (with the folders made to hold it), so `out` is
    never seen half-written. `out` must not exist or be empty; `option` names the setting
    that chooses it, for the error."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(
            f"{out} already exists and is not an empty folder; choose another {option}"
        )
    made = [p for p in out.parents if not p.exists()]  # deepest first
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    except OSError as err:
        _remove_empty(made)
        raise ConfigError(
            f"cannot write into {out.parent} ({err.strerror}); set {option}"
        ) from None
    try:
        yield staging
        if out.exists():
            out.rmdir()  # empty, checked above
        staging.chmod(0o755)  # mkdtemp's folder is private
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        _remove_empty(made)
        raise


def _remove_empty(folders: list[Path]) -> None:
    for folder in folders:
        with contextlib.suppress(OSError):  # another writer may have used it meanwhile
            folder.rmdir()


def check_output_folder(out: Path, option: str, suggested: str) -> None:
    """Refuse to write a comparison or a report over a file, or into a run folder among its
    own files; `suggested`: a folder name to offer beside it."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out} is a file; give {option} a folder")
    if RunFolder(out).config.is_file():
        raise ConfigError(
            f"{out} is a run folder; give {option} a folder of its own, e.g. "
            f"{out.parent / suggested}"
        )


@contextmanager
def removed_on_failure(run: RunFolder, fresh: bool) -> Iterator[None]:
    """A run folder made for a run that fails before its first trained checkpoint is removed."""
    try:
        yield
    except BaseException:
        trained = [p for p in run.checkpoints.glob("*.ckpt") if p.name != INITIAL_CHECKPOINT]
        if fresh and not trained:
            shutil.rmtree(run.path, ignore_errors=True)  # nothing worth resuming: leave no trace
        raise

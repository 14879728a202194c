"""`recall-finetune`: continue a trained run on new individuals and watch it forget.

recall-finetune start=runs/default/<time>                        # N/16 new, no replay
recall-finetune start=runs/default/<time> new_individuals=4000 replay=0.5
recall-finetune start=runs/default/<time> control=true           # and the control run
recall-finetune -m start=runs/default/<time> replay=0,0.125,0.5  # a sweep, compared at its end

The starting run is only read: the fine-tuning run gets its own folder, whose corpus.json
records the checkpoint it started from (`started_from`). By default the stage is sized
and paced relative to the starting run, as in the study: `new_fraction` x its seen
individuals, at `lr_ratio` x its peak learning rate; the folder's config.yaml records the
resolved `new_individuals` and `optim.lr`.

`new_individuals=0` is the control: pre-training continued on the old population alone,
same checkpoint, steps and optimiser. With `control=true` it runs after the fine-tuning
run, into <run>/control/, and interference.json gets `attention_stability`: per circuit
metric and layer, its change over the fine-tuning run, over the control, and the
difference (fine-tuning minus control), since pre-training alone moves attention too.
"""

from __future__ import annotations

import copy
import math
import shutil
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import hydra
import lightning as L
import numpy as np
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from recall.cadence import Cadence
from recall.callbacks.interference import CIRCUITS, Interference
from recall.checkpoints import checkpoint_step
from recall.cli import checked_command_line, reported, sweep_job
from recall.config import CONFIG_DIR, check_known_keys, to_dataclasses
from recall.data.corpus import Corpus
from recall.data.datamodule import LoaderConfig
from recall.data.finetuning import FinetuneDataModule, replay_schedule
from recall.data.population import add_individuals
from recall.data.schedules import build_schedule
from recall.errors import ConfigError
from recall.fitting import corpus_record, fit, quiet_lightning, save_corpus
from recall.model.gpt import GPT
from recall.model.module import OptimConfig, RecallModule, checkpoint_model
from recall.plots.interference_plot import CONTROL_FOLDER, plot_interference
from recall.runs import (
    RunFolder,
    new_run_folder,
    regenerate_corpus,
    removed_on_failure,
    timestamped,
)
from recall.settings import validate_fit
from recall.train import launches_processes


@dataclass(frozen=True)
class Start:
    """The checkpoint fine-tuning starts from, with its run's data settings and corpus."""

    checkpoint: Path
    loader: LoaderConfig  # the starting run's batch size and data distribution
    model: GPT
    corpus: Corpus
    peak_lr: float  # the starting run's optim.lr (its peak learning rate)
    step: int  # the training step the checkpoint was saved at
    weights: np.ndarray  # its individuals' sampling weights at the checkpoint's last step


def load_start(start: str) -> Start:
    """The starting run and checkpoint, checked against a corpus regenerated from its config."""
    path = Path(start).expanduser()
    if path.is_dir():
        run = RunFolder(path)
        # an ensemble member keeps weights only: its latest stepNNNNNN.ckpt then
        saved = [run.checkpoints / "last.ckpt", *sorted(run.checkpoints.glob("step*.ckpt"))[::-1]]
        checkpoint = next((p for p in saved if p.is_file()), saved[0])
        if not run.config.is_file() or not checkpoint.is_file():
            raise ConfigError(
                f"start={start} is not a trained run folder (needs config.yaml and "
                "checkpoints/last.ckpt); give a run folder or a .ckpt file"
            )
    else:
        run, checkpoint = RunFolder.of_checkpoint(path), path
    corpus, loader = regenerate_corpus(run)
    model = checkpoint_model(checkpoint)
    expected = (len(corpus.tokenizer), corpus.max_len)
    if (model.config.vocab_size, model.config.max_len) != expected:
        raise ConfigError(
            f"{checkpoint} has vocabulary {model.config.vocab_size} and length "
            f"{model.config.max_len}, its run's corpus {expected[0]} and {expected[1]}: the "
            "checkpoint does not belong to this run"
        )
    config = run.load_config()
    peak_lr = OmegaConf.select(config, "optim.lr")
    if not isinstance(peak_lr, int | float) or peak_lr <= 0:
        raise ConfigError(
            f"{run.config} has no positive optim.lr to scale by lr_ratio; give optim.lr="
        )
    schedule = build_schedule(
        OmegaConf.to_container(config.schedule, resolve=True),
        loader.distribution,
        corpus.population.n_seen,
    )
    step = checkpoint_step(checkpoint)
    return Start(
        checkpoint.resolve(),
        loader,
        model,
        corpus,
        float(peak_lr),
        step,
        schedule.weights_after(step),
    )


def check_finetune_config(cfg: DictConfig) -> None:
    """The keys only fine-tuning has, checked before the start is even loaded."""
    check_known_keys(cfg, "finetune")
    if OmegaConf.is_missing(cfg, "start"):
        raise ConfigError(
            "start= is required: the trained run folder (or checkpoint) to start from"
        )
    if cfg.seed < 0:
        raise ConfigError(f"seed={cfg.seed} must be zero or positive")
    n_new = cfg.new_individuals
    if n_new is not None and n_new < 0:  # its type: recall/schema.py
        raise ConfigError(
            f"new_individuals={n_new} must be a count >= 0 (0: the control) or null "
            "(new_fraction x the starting run's individuals)"
        )
    fraction = cfg.new_fraction
    if not _is_number(fraction) or not 0 < fraction <= 1:
        raise ConfigError(
            f"new_fraction={fraction} must be in (0, 1]: new individuals per old one "
            "(the study: 1k-16k new against 64k old)"
        )
    if not _is_number(cfg.lr_ratio) or cfg.lr_ratio <= 0:
        raise ConfigError(
            f"lr_ratio={cfg.lr_ratio} must be positive: the fine-tuning rate over the starting "
            "run's peak (the study: 3e-5 / 4e-4 = 0.075)"
        )
    if not isinstance(cfg.control, bool):
        raise ConfigError(f"control={cfg.control} must be true or false")
    if cfg.control and n_new == 0:
        raise ConfigError(
            "control=true with new_individuals=0: this run is already the control; "
            "give new individuals, or control=false"
        )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def resolve_defaults(cfg: DictConfig, start: Start) -> DictConfig:
    """A copy of `cfg` with new_individuals and optim.lr set: null ones from the starting
    run, as new_fraction x its seen individuals (rounded, at least 1) and lr_ratio x its
    peak learning rate."""
    resolved = copy.deepcopy(cfg)
    if resolved.new_individuals is None:
        n_old = start.corpus.population.n_seen
        resolved.new_individuals = max(1, round(cfg.new_fraction * n_old))
    if resolved.optim.lr is None:
        resolved.optim.lr = cfg.lr_ratio * start.peak_lr
    return resolved


def finetune(cfg: DictConfig) -> RunFolder:
    """Fine-tune as configured (then the control, with control=true) and return the
    finished fine-tuning run folder."""
    check_finetune_config(cfg)
    validate_fit(cfg)
    if launches_processes(cfg.trainer):
        raise ConfigError("recall-finetune runs in one process; use a single-device trainer")
    for key in ("n_eval", "drift_biographies"):
        if cfg[key] <= 0:
            raise ConfigError(f"{key}={cfg[key]} must be positive")
    if cfg.batch_size is not None and cfg.batch_size <= 0:
        raise ConfigError(f"batch_size={cfg.batch_size} must be positive or null (the start's)")
    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)
    start = load_start(cfg.start)
    cfg = resolve_defaults(cfg, start)
    run, summary = finetune_run(cfg, start)
    if cfg.control:
        summary.update(run_control(cfg, start, run))
        run.write_json(run.interference, summary)
    plot_interference(run, title=f"{run.path.parent.name}/{run.path.name}")
    return run


def finetune_run(cfg: DictConfig, start: Start) -> tuple[RunFolder, dict[str, Any]]:
    """One fine-tuning run (`cfg` resolved) into its folder, with its interference.json;
    the folder's figure is left to the caller."""
    (optim,) = to_dataclasses(cfg.optim, "optim", OptimConfig)
    (cadence,) = to_dataclasses(cfg.eval, "eval", Cadence)
    max_steps = validate_fit(cfg)
    interference = Interference(cfg.drift_biographies)
    old = start.corpus.population
    if cfg.new_individuals:
        population = add_individuals(old, cfg.new_individuals, cfg.seed)
        corpus = Corpus(population)
    else:  # the control: the old population only
        population, corpus = old, start.corpus
    loader = LoaderConfig(
        batch_size=cfg.batch_size or start.loader.batch_size,
        distribution=start.loader.distribution,
        n_eval=cfg.n_eval,
    )
    schedule = replay_schedule(start.weights, cfg.new_individuals, cfg.replay)

    datamodule = FinetuneDataModule(
        corpus, loader, schedule, cfg.seed, max_steps, old.n_seen, start.weights
    )
    run = new_run_folder(cfg.run_dir, unique=timestamped(cfg))
    with removed_on_failure(run, fresh=True):
        print(f"recall: run folder {run.path}", flush=True)
        OmegaConf.save(cfg, run.config, resolve=True)
        record = {
            **corpus_record(cfg.seed, corpus, datamodule.baselines),
            "n_old": old.n_seen,
            "started_from": {
                "checkpoint": str(start.checkpoint),
                "step": start.step,
                "fingerprint": old.fingerprint(),
            },
        }
        save_corpus(run, corpus, record)
        L.seed_everything(cfg.seed, workers=True, verbose=False)
        module = RecallModule(
            model=asdict(start.model.config),
            optim=asdict(optim),
            eval_steps=cadence.steps(max_steps),
            baselines=datamodule.baselines,
            n_attributes=len(population.attributes),
            eval_batch_size=cfg.eval_batch_size,
        )
        module.model.load_state_dict(start.model.state_dict())
        throughput = fit(cfg, run, module, datamodule, [interference])
        summary = {**interference_summary(run), **throughput, "attn_circuits": circuit_changes(run)}
        run.write_json(run.interference, summary)  # the run is finished, whatever follows
    return run, summary


def run_control(cfg: DictConfig, start: Start, run: RunFolder) -> dict[str, Any]:
    """The control of a finished fine-tuning run, into <run>/control: the same command with
    new_individuals=0. Its interference.json entries (`control`, `attention_stability`);
    if it fails, the fine-tuning run stays as it is, `control` records the error and the
    partial control folder is removed."""
    control_cfg = copy.deepcopy(cfg)
    control_cfg.new_individuals = 0
    control_cfg.control = False
    control_cfg.run_dir = str(run.path / CONTROL_FOLDER)
    print("recall: the control (new_individuals=0, same steps) of this run", flush=True)
    try:
        control, summary = finetune_run(control_cfg, start)
        plot_interference(control, title=f"{run.path.name}/{CONTROL_FOLDER}")
        return {
            "control": {
                "run": CONTROL_FOLDER,
                "final_step": summary["final_step"],
                "old_acc_final": summary["old_acc_final"],
                "attn_drift_final": summary["attn_drift_final"],
            },
            "attention_stability": attention_stability(run, control),
        }
    except BaseException as err:
        shutil.rmtree(run.path / CONTROL_FOLDER, ignore_errors=True)
        if not isinstance(err, Exception):
            raise
        message = (str(err).strip().splitlines() or [""])[0]
        error = f"{type(err).__name__}: {message}"
        print(
            f"recall: the control failed ({error}); the fine-tuning run {run.path} is "
            "complete, without attention_stability",
            file=sys.stderr,
            flush=True,
        )
        return {"control": {"run": None, "error": error}}


def interference_summary(run: RunFolder) -> dict[str, Any]:
    """How much of the old individuals survived, how much of the new was learned
    (`new_acc_final` None in a control, which has no new individuals)."""
    steps, old_acc = run.curve("old/attr_acc")
    _, new_acc = run.curve("new/attr_acc")
    drift = [run.curve(column)[1] for column in run.columns("attn_drift/")]
    halved = np.flatnonzero(old_acc <= old_acc[0] / 2)
    return {
        "old_acc_start": float(old_acc[0]),
        "steps_to_half_old_acc": int(steps[halved[0]]) if len(halved) else None,
        "old_acc_min": float(old_acc.min()),
        "old_acc_final": float(old_acc[-1]),
        "new_acc_final": float(new_acc[-1]) if len(new_acc) else None,
        "attn_drift_final": [float(d[-1]) for d in drift],
        "final_step": int(steps[-1]),
    }


def circuit_columns(run: RunFolder) -> list[str]:
    """The circuit metrics' columns, attn/<circuit>/layer<l>, by circuit then layer."""
    columns = [c.split("/") for c in run.columns("attn/")]
    columns = [c for c in columns if len(c) == 3 and c[1] in CIRCUITS]
    columns.sort(key=lambda c: (CIRCUITS.index(c[1]), int(c[2].removeprefix("layer"))))
    return ["/".join(c) for c in columns]


def circuit_changes(run: RunFolder) -> dict[str, dict[str, float]]:
    """Per circuit metric and layer ("attr_to_name/layer1"): its value at the first
    evaluation (step 0), at the last, and the change between them."""
    summary = {}
    for column in circuit_columns(run):
        _, values = run.curve(column)
        start, final = float(values[0]), float(values[-1])
        summary[column.removeprefix("attn/")] = {
            "start": start,
            "final": final,
            "change": final - start,
        }
    return summary


def attention_stability(run: RunFolder, control: RunFolder) -> dict[str, dict[str, float]]:
    """Per circuit metric and layer, the change from step 0 to the final step in the
    fine-tuning run and in its control, and their difference (fine-tuning minus control):
    what fine-tuning moves beyond what continued pre-training moves. The total-variation
    drift from the start (0 at step 0) comes last, as attn_drift/layer<l>."""
    changes = [circuit_changes(run), circuit_changes(control)]
    for folder, change in zip((run, control), changes, strict=True):
        for column in folder.columns("attn_drift/"):
            change[column] = {"change": float(folder.curve(column)[1][-1])}
    finetuned, controlled = changes
    return {
        key: {
            "finetune": finetuned[key]["change"],
            "control": controlled[key]["change"],
            "difference": finetuned[key]["change"] - controlled[key]["change"],
        }
        for key in finetuned
        if key in controlled
    }


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="finetune")
def _hydra_main(cfg: DictConfig) -> None:
    quiet_lightning()
    sweep = HydraConfig.get().mode == RunMode.MULTIRUN
    with sweep_job("recall-finetune") if sweep else reported("recall-finetune"):
        if sweep:
            cfg.run_dir = HydraConfig.get().runtime.output_dir
        finetune(cfg)


def main() -> None:
    """Console entry point (Hydra parses the command line)."""
    checked_command_line("recall-finetune", "finetune", sys.argv[1:])
    _hydra_main()

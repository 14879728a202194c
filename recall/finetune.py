"""`recall-finetune`: continue a trained run on new individuals and watch it forget.

recall-finetune start=runs/default/<time>                        # 1000 new, no replay
recall-finetune start=runs/default/<time> new_individuals=4000 replay=0.5
recall-finetune -m start=runs/default/<time> replay=0,0.125,0.5  # a sweep, compared at its end

The starting run is only read: the fine-tuning run gets its own folder, whose corpus.json
records the checkpoint it started from (`started_from`).
"""

from __future__ import annotations

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
from recall.callbacks.interference import Interference
from recall.config import CONFIG_DIR, to_dataclasses
from recall.data.corpus import Corpus
from recall.data.datamodule import LoaderConfig
from recall.data.distributions import sampling_weights
from recall.data.finetuning import FinetuneDataModule, replay_schedule
from recall.data.population import add_individuals
from recall.errors import ConfigError
from recall.model.gpt import GPT
from recall.model.module import OptimConfig, RecallModule, checkpoint_model
from recall.plots.interference_plot import plot_interference
from recall.runs import RunFolder, regenerate_corpus
from recall.train import (
    checkpoint_step,
    corpus_record,
    fit,
    launches_processes,
    new_run_folder,
    quiet_lightning,
    removed_on_failure,
    validate_fit,
)


@dataclass(frozen=True)
class Start:
    """The checkpoint fine-tuning starts from, with its run's data settings and corpus."""

    checkpoint: Path
    loader: LoaderConfig  # the starting run's batch size and data distribution
    model: GPT
    corpus: Corpus


def load_start(start: str) -> Start:
    """The starting run and checkpoint, checked against a corpus regenerated from its config."""
    path = Path(start).expanduser()
    if path.is_dir():
        run, checkpoint = RunFolder(path), path / "checkpoints" / "last.ckpt"
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
    return Start(checkpoint.resolve(), loader, model, corpus)


def finetune(cfg: DictConfig) -> RunFolder:
    """Fine-tune as configured and return the finished run folder."""
    if OmegaConf.is_missing(cfg, "start"):
        raise ConfigError(
            "start= is required: the trained run folder (or checkpoint) to start from"
        )
    (optim,) = to_dataclasses(cfg.optim, "optim", OptimConfig)
    (cadence,) = to_dataclasses(cfg.eval, "eval", Cadence)
    max_steps = validate_fit(cfg)
    if launches_processes(cfg.trainer):
        raise ConfigError("recall-finetune runs in one process; use a single-device trainer")
    for key in ("n_eval", "drift_biographies"):
        if cfg[key] <= 0:
            raise ConfigError(f"{key}={cfg[key]} must be positive")
    if cfg.batch_size is not None and cfg.batch_size <= 0:
        raise ConfigError(f"batch_size={cfg.batch_size} must be positive or null (the start's)")
    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)
    interference = Interference(cfg.drift_biographies)
    start = load_start(cfg.start)
    old = start.corpus.population
    population = add_individuals(old, cfg.new_individuals, cfg.seed)
    corpus = Corpus(population)
    loader = LoaderConfig(
        batch_size=cfg.batch_size or start.loader.batch_size,
        distribution=start.loader.distribution,
        n_eval=cfg.n_eval,
    )
    old_weights = sampling_weights(start.loader.distribution, old.n_seen)
    schedule = replay_schedule(old_weights, cfg.new_individuals, cfg.replay)

    run = new_run_folder(cfg.run_dir)
    with removed_on_failure(run, fresh=True):
        print(f"recall: run folder {run.path}", flush=True)
        OmegaConf.save(cfg, run.config, resolve=True)
        run.write_json(
            run.corpus,
            {
                **corpus_record(cfg.seed, corpus),
                "n_old": old.n_seen,
                "started_from": {
                    "checkpoint": str(start.checkpoint),
                    "step": checkpoint_step(start.checkpoint),
                    "fingerprint": old.fingerprint(),
                },
            },
        )
        L.seed_everything(cfg.seed, workers=True, verbose=False)
        datamodule = FinetuneDataModule(corpus, loader, schedule, cfg.seed, old.n_seen, old_weights)
        module = RecallModule(
            model=asdict(start.model.config),
            optim=asdict(optim),
            eval_steps=cadence.steps(max_steps),
            baseline=population.baseline(),
            n_attributes=len(population.attributes),
            eval_batch_size=cfg.eval_batch_size,
        )
        module.model.load_state_dict(start.model.state_dict())
        throughput = fit(cfg, run, module, datamodule, [interference])
        summarize_interference(run, extra=throughput)
    return run


def interference_summary(run: RunFolder) -> dict[str, Any]:
    """How much of the old individuals survived, how much of the new was learned."""
    steps, old_acc = run.curve("old/attr_acc")
    _, new_acc = run.curve("new/attr_acc")
    drift = [run.curve(column)[1] for column in run.columns("attn_drift/")]
    halved = np.flatnonzero(old_acc <= old_acc[0] / 2)
    return {
        "old_acc_start": float(old_acc[0]),
        "steps_to_half_old_acc": int(steps[halved[0]]) if len(halved) else None,
        "old_acc_min": float(old_acc.min()),
        "old_acc_final": float(old_acc[-1]),
        "new_acc_final": float(new_acc[-1]),
        "attn_drift_final": [float(d[-1]) for d in drift],
        "final_step": int(steps[-1]),
    }


def summarize_interference(run: RunFolder, extra: dict | None = None) -> dict[str, Any]:
    """Write interference.json and interference_plot.png from the run's metrics.csv."""
    summary = {**interference_summary(run), **(extra or {})}
    run.write_json(run.interference, summary)
    plot_interference(run, title=f"{run.path.parent.name}/{run.path.name}")
    return summary


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="finetune")
def _hydra_main(cfg: DictConfig) -> None:
    quiet_lightning()
    try:
        if HydraConfig.get().mode == RunMode.MULTIRUN:
            cfg.run_dir = HydraConfig.get().runtime.output_dir
        finetune(cfg)
    except ConfigError as err:
        print(f"recall-finetune: error: {err}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("recall-finetune: interrupted", file=sys.stderr)
        sys.exit(130)


def main() -> None:
    """Console entry point (Hydra parses the command line)."""
    _hydra_main()

"""`recall-train`: one training run from a Hydra config into a self-contained run folder.

recall-train                                   # the default run (a few minutes on a CPU)
recall-train data.n_individuals=2000 trainer.max_steps=3000
recall-train ckpt_path=runs/default/<time>/checkpoints/last.ckpt   # resume that run
recall-train seeds=[0,1,2]                     # one run per seed, trained together
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import hydra
import lightning as L
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig, OmegaConf

from recall.checkpoints import resumable_step
from recall.cli import checked_command_line, reported, sweep_job
from recall.config import CONFIG_DIR, typed
from recall.data.corpus import Corpus
from recall.data.population import generate_population
from recall.ensemble import train_ensemble
from recall.errors import ConfigError
from recall.fitting import (
    build_run,
    fit,
    prepare_run_folder,
    quiet_lightning,
    rank_zero_run_dir,
    resume_hint,
    start_run,
    summarize,
)
from recall.runs import RunFolder, removed_on_failure
from recall.schema import TrainSchema
from recall.settings import Settings, validate


def train(cfg: DictConfig, callbacks: Sequence[L.Callback] = ()) -> RunFolder:
    """Train one run as configured and return its finished run folder.

    `callbacks` are added to the run's own (checkpoints, progress bar).
    """
    settings = validate(cfg)
    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)
    population = generate_population(settings.population)
    corpus = Corpus(population)
    shared = rank_zero_run_dir()
    if shared is not None:  # trains beside rank 0, which alone writes the run folder
        step = resumable_step(cfg.ckpt_path) if cfg.ckpt_path else None
        return _fit(cfg, settings, corpus, RunFolder(shared), step, callbacks)
    run, resume_step = prepare_run_folder(cfg)
    with resume_hint(run), removed_on_failure(run, fresh=resume_step is None):
        return _fit(cfg, settings, corpus, run, resume_step, callbacks)


def train_seeds(cfg: DictConfig, seeds: Sequence[int]) -> list[RunFolder]:
    """One finished run per seed, for notebooks and scripts: a plain run in <run_dir> for
    one seed; for several, one ensemble whose members land in <run_dir>/seed_<s> (trained
    together on stacked weights: about the cost of one run on a GPU, k runs on a CPU)."""
    if len(seeds) == 1:
        return [train(OmegaConf.merge(cfg, {"seed": seeds[0]}))]
    return train_ensemble(OmegaConf.merge(cfg, {"seeds": list(seeds)}))


def _fit(
    cfg: DictConfig,
    settings: Settings,
    corpus: Corpus,
    run: RunFolder,
    resume_step: int | None,
    callbacks: Sequence[L.Callback],
) -> RunFolder:
    datamodule, module = build_run(cfg, settings, corpus, run, resume_step)
    start_run(cfg, run, corpus, datamodule.baselines, resume_step)
    throughput = fit(cfg, run, module, datamodule, [*settings.dynamics, *callbacks], resume_step)
    if rank_zero_only.rank == 0:
        summarize(run, settings.phases, extra=throughput)
    return run


def resume_config(saved: DictConfig, overrides: list[str]) -> DictConfig:
    """A run's saved config with the command line's `key=value` overrides applied."""
    pairs = [o.lstrip("+~").split("=", 1) for o in overrides if "=" in o]
    for key, _ in pairs:
        if key == "run_dir":
            raise ConfigError(
                "a resumed run stays in the folder of its checkpoint; leave run_dir= out, or "
                "copy the run folder elsewhere and resume the copy's checkpoint"
            )
        if isinstance(OmegaConf.select(saved, key), DictConfig):
            raise ConfigError(f"resuming cannot switch the config group '{key}'; start a new run")
    changes = OmegaConf.from_dotlist([f"{k}={v}" for k, v in pairs])
    return typed(TrainSchema, saved, changes)


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="train")
def _hydra_main(cfg: DictConfig) -> None:
    quiet_lightning()
    sweep = HydraConfig.get().mode == RunMode.MULTIRUN
    with sweep_job("recall-train") if sweep else reported("recall-train"):
        if cfg.ckpt_path:  # resume with the run's own config, plus what the command line changes
            saved = RunFolder.of_checkpoint(cfg.ckpt_path).load_config()
            cfg = resume_config(saved, list(HydraConfig.get().overrides.task))
        elif sweep:
            if launches_processes(cfg.trainer):
                raise ConfigError(
                    "a -m sweep cannot launch DDP processes itself (each would re-run the "
                    "sweep); run DDP configs one at a time, or on SLURM where srun starts them"
                )
            cfg.run_dir = HydraConfig.get().runtime.output_dir  # <hydra.sweep.dir>/<job number>
        train_ensemble(cfg) if cfg.get("seeds") or cfg.get("members") else train(cfg)


def launches_processes(trainer: DictConfig) -> bool:
    """Whether Lightning will start training processes by re-running the command line."""
    several = trainer.get("devices", 1) not in (1, "1", "auto")
    ddp = "ddp" in str(trainer.get("strategy", ""))
    return several and ddp and "SLURM_JOB_ID" not in os.environ


def main() -> None:
    """Console entry point (Hydra parses the command line)."""
    checked_command_line("recall-train", "train", sys.argv[1:])
    _hydra_main()

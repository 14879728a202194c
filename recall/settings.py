"""A training config checked as a whole and turned into dataclasses, before anything is written."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import lightning as L
from lightning.fabric.utilities.exceptions import MisconfigurationException
from lightning.pytorch.callbacks import TQDMProgressBar
from omegaconf import DictConfig, OmegaConf

from recall.cadence import Cadence
from recall.callbacks.attention import AttentionCircuits
from recall.callbacks.base import DynamicsCallback
from recall.callbacks.hallucination import Hallucination
from recall.callbacks.phases import PhaseTracker
from recall.config import check_known_keys, to_dataclasses
from recall.data.datamodule import LoaderConfig
from recall.data.population import PopulationConfig
from recall.data.schedules import Schedule, build_schedule
from recall.errors import ConfigError
from recall.model.gpt import GPTConfig
from recall.model.module import OptimConfig
from recall.model.patching import PatchingConfig
from recall.phases import PhaseConfig

FIXED_TRAINER_ARGUMENTS = {
    "enable_checkpointing": False,  # RunCheckpoints writes them
    "enable_model_summary": False,
    "num_sanity_val_steps": 0,
    "limit_val_batches": 0,  # evaluation is the dynamics callbacks', not a validation loop
}
TRAINER_SET_BY_RECALL = (
    *("default_root_dir", "logger", "callbacks", "enable_progress_bar"),
    *FIXED_TRAINER_ARGUMENTS,
)
COMPILE_CHOICES = (False, True, "reduce-overhead", "max-autotune")  # true: default mode


@dataclass(frozen=True)
class Settings:
    """Every config section, validated, before anything is written."""

    population: PopulationConfig
    loader: LoaderConfig
    optim: OptimConfig
    cadence: Cadence
    phases: PhaseConfig
    schedule: Schedule
    max_steps: int
    stop_at_acc: float | None
    patching: PatchingConfig
    dynamics: list[DynamicsCallback]


def validate(cfg: DictConfig) -> Settings:
    """Check the whole config; raises ConfigError with a one-line message."""
    check_known_keys(cfg, "train")
    population, loader = to_dataclasses(
        cfg.data, "data", PopulationConfig, LoaderConfig, seed=cfg.seed
    )
    (optim,) = to_dataclasses(cfg.optim, "optim", OptimConfig)
    (cadence,) = to_dataclasses(cfg.eval, "eval", Cadence)
    (phases,) = to_dataclasses(cfg.phases, "phases", PhaseConfig)
    (patching,) = to_dataclasses(cfg.patching, "patching", PatchingConfig)
    GPTConfig(vocab_size=1, max_len=1, **cfg.model)  # shape checks before the corpus exists
    max_steps = validate_fit(cfg)
    if cfg.compile not in COMPILE_CHOICES:
        raise ConfigError(
            f"compile={cfg.compile} must be one of {', '.join(map(str, COMPILE_CHOICES))}"
        )
    if not isinstance(cfg.eval_batch_size, int) or cfg.eval_batch_size <= 0:
        raise ConfigError(f"eval_batch_size={cfg.eval_batch_size} must be a positive integer")
    if cfg.stop_at_acc is not None and not 0 < cfg.stop_at_acc <= 1:
        raise ConfigError(f"stop_at_acc={cfg.stop_at_acc} must be in (0, 1] or null")
    if cfg.stop_at_onset and not cfg.callbacks.phases:
        raise ConfigError("stop_at_onset needs the phase detector: set callbacks.phases=true")
    schedule = build_schedule(
        OmegaConf.to_container(cfg.schedule, resolve=True),
        loader.distribution,
        population.n_individuals,
    )
    dynamics = dynamics_callbacks(cfg.callbacks, phases, population, cfg.stop_at_onset)
    return Settings(
        population,
        loader,
        optim,
        cadence,
        phases,
        schedule,
        max_steps,
        cfg.stop_at_acc,
        patching,
        dynamics,
    )


def validate_fit(cfg: DictConfig) -> int:
    """Check the keys `fit` reads (trainer, checkpoint, threads); the step budget."""
    max_steps = cfg.trainer.get("max_steps", -1)
    if not _is_count(max_steps) or max_steps <= 0:
        raise ConfigError(f"trainer.max_steps={max_steps} must be a positive integer")
    log_every = cfg.trainer.get("log_every_n_steps", 0)
    if not _is_count(log_every) or log_every < 0:
        raise ConfigError(
            f"trainer.log_every_n_steps={log_every} must be an integer >= 0 (0: no train loss)"
        )
    check_trainer(cfg.trainer)
    if cfg.checkpoint.every_n_steps <= 0:
        raise ConfigError(
            f"checkpoint.every_n_steps={cfg.checkpoint.every_n_steps} must be positive"
        )
    if cfg.threads is not None and cfg.threads <= 0:
        raise ConfigError(f"threads={cfg.threads} must be positive or null (torch's default)")
    return max_steps


def check_trainer(trainer: DictConfig) -> None:
    """`trainer` holds lightning.Trainer's arguments, an open node the schema cannot type:
    a throwaway Trainer built from it refuses a wrong name or value (an unknown precision,
    an accelerator this machine lacks) before anything is written."""
    arguments = OmegaConf.to_container(trainer, resolve=True)
    taken = sorted(set(arguments) & set(TRAINER_SET_BY_RECALL))
    if taken:
        bar = taken[0] == "enable_progress_bar"
        hint = " (progress_refresh=0 hides the progress bar)" if bar else ""
        raise ConfigError(f"trainer.{taken[0]} is set by recall itself; remove it{hint}")
    lightning_log = logging.getLogger("lightning.pytorch")
    level = lightning_log.level
    lightning_log.setLevel(logging.WARNING)  # no second "GPU available" banner in a notebook
    try:
        lightning_trainer(arguments, progress_refresh=1, logger=False)
    except (MisconfigurationException, ValueError, TypeError) as err:
        raise ConfigError(
            f"trainer: {str(err).splitlines()[0]} (change that trainer.* value; trainer=cpu "
            "runs on any machine)"
        ) from None
    finally:
        lightning_log.setLevel(level)


def lightning_trainer(
    arguments: dict[str, Any],
    progress_refresh: int,
    callbacks: Sequence[L.Callback] = (),
    **run: Any,
) -> L.Trainer:
    """lightning.Trainer of the trainer config's `arguments` and recall's own (a progress
    bar, every `progress_refresh` steps; no checkpointing or validation loop of Lightning's);
    `run`: the logger and folder of the run."""
    return L.Trainer(
        **arguments,
        **run,
        callbacks=[TQDMProgressBar(refresh_rate=progress_refresh), *callbacks],
        **FIXED_TRAINER_ARGUMENTS,
    )


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def dynamics_callbacks(
    cfg: DictConfig, phases: PhaseConfig, population: PopulationConfig, stop_at_onset: bool
) -> list[DynamicsCallback]:
    """The enabled training-dynamics callbacks of the `callbacks` config group."""
    callbacks: list[DynamicsCallback] = []
    if cfg.phases:
        callbacks.append(PhaseTracker(phases, stop_at_onset))
    if cfg.attention.enabled:
        callbacks.append(AttentionCircuits(cfg.attention.n_biographies, cfg.attention.figure_every))
    if cfg.hallucination.enabled:
        if population.n_unseen == 0:
            raise ConfigError(
                "callbacks.hallucination needs unseen individuals: set data.n_unseen > 0 "
                "or callbacks.hallucination.enabled=false"
            )
        callbacks.append(Hallucination(cfg.hallucination.threshold))
    return callbacks

"""Training ensembles: several runs of one architecture trained in one process.

`recall-train seeds=[0,1,2]` trains the configured run once per seed, on stacked weights
(recall.model.ensemble). Each member writes an ordinary run folder, <run_dir>/seed_<s>/,
that every tool reads like a separate run's; the ensemble's own folder <run_dir> holds
its config and last.ckpt, from which all members resume together:

    recall-train ckpt_path=<run_dir>/checkpoints/last.ckpt

Members may also differ in what leaves the shapes of weights and batches alone (VARYING):

    recall-train 'members=[{optim:{lr:1e-3}},{optim:{lr:3e-3}}]' seeds=[0,1]   # 4 members
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L
import torch
from omegaconf import DictConfig, OmegaConf

from recall.checkpoints import RunCheckpoints, partial_file, weights_file
from recall.config import typed
from recall.data.corpus import Corpus
from recall.data.ensemble import EnsembleDataModule
from recall.data.population import generate_population
from recall.errors import ConfigError
from recall.fitting import (
    build_run,
    fit_timed,
    make_trainer,
    prepare_run_folder,
    resume_hint,
    start_run,
    summarize,
    throughput,
)
from recall.loggers import run_loggers
from recall.model.ensemble import EnsembleModule
from recall.model.module import RecallModule
from recall.runs import RunFolder, removed_on_failure
from recall.schema import TrainSchema
from recall.settings import validate

VARYING = ("seed", "data.distribution", "schedule", "optim")
"""What ensemble members may differ in: nothing that changes a weight's or a batch's shape."""
PER_MEMBER = ("run_dir", "ckpt_path", "seeds", "members", "name")  # set per member


def member_configs(cfg: DictConfig, root: Path) -> list[DictConfig]:
    """One separate run's config per member: each of `cfg.members` (config values merged
    into `cfg`) for each of `cfg.seeds`, writing into <root>/<member name>."""
    seeds = list(cfg.seeds) if cfg.get("seeds") else [None]
    if None not in seeds and (
        len(set(seeds)) != len(seeds) or not all(isinstance(s, int) for s in seeds)
    ):
        raise ConfigError(f"seeds={seeds} must be different integers, e.g. seeds=[0,1,2]")
    variants = list(cfg.members) if cfg.get("members") else [None]
    if not all(v is None or isinstance(v, DictConfig) for v in variants):
        raise ConfigError(
            "members must be a list of config values, e.g. members=[{optim:{lr:1e-3}},"
            "{optim:{lr:3e-3}}]"
        )
    members = []
    for index, variant in enumerate(variants):
        for seed in seeds:
            parts = [f"member_{index}"] if variant is not None else []
            parts += [f"seed_{seed}"] if seed is not None else []
            member = with_variant(
                typed(TrainSchema, cfg, {"seeds": None, "members": None}), variant
            )
            member.seed = seed if seed is not None else member.seed
            member.ckpt_path = None
            member.run_dir = str(root / "_".join(parts))
            members.append(member)
    return members


NAMED = ("data.distribution", "schedule")
"""Nodes whose keys depend on their `name`: a member's variant that names another one
replaces the base's node (a power law in place of uniform); otherwise it changes values."""


def with_variant(base: DictConfig, variant: DictConfig | None) -> DictConfig:
    """`base` with a member's config values merged in; see NAMED."""
    if variant is None:
        return base
    for key in NAMED:
        node = OmegaConf.select(variant, key)
        named = isinstance(node, DictConfig) and "name" in node
        if named and node.name != OmegaConf.select(base, key).name:
            OmegaConf.update(base, key, node, merge=False)
    return typed(TrainSchema, base, variant)


def stops_early(cfg: DictConfig) -> bool:
    """Whether a run ends on a condition of its own curve (stop_at_acc, stop_at_onset):
    such runs cannot be ensemble members, which share one loop and so stop together."""
    return cfg.get("stop_at_acc") is not None or bool(cfg.get("stop_at_onset"))


def check_members(members: Sequence[DictConfig]) -> None:
    """Refuse, in one line, members that cannot share one stacked model and loop."""
    flat = [_flatten(OmegaConf.to_container(m, resolve=True)) for m in members]
    for key in sorted(set().union(*flat)):
        if key.split(".")[0] in PER_MEMBER or key.startswith(VARYING):
            continue
        values = {repr(f.get(key)) for f in flat}
        if len(values) > 1:
            raise ConfigError(
                f"ensemble members differ in '{key}'; they may differ only in "
                f"{', '.join(VARYING)}: train the others as separate runs"
            )
    first = members[0]
    if stops_early(first):
        raise ConfigError(
            "stop_at_acc and stop_at_onset cannot be used with seeds: members would stop apart"
        )
    if first.trainer.get("devices", 1) not in (1, "1", "auto"):
        raise ConfigError(
            "ensembles (seeds=...) train on one device: set trainer.devices=1, or run the "
            "members separately"
        )


def _flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(tree, dict):
        return {prefix[:-1]: tree}
    return {k: v for key, sub in tree.items() for k, v in _flatten(sub, f"{prefix}{key}.").items()}


def train_ensemble(cfg: DictConfig, callbacks: Sequence[L.Callback] = ()) -> list[RunFolder]:
    """Train the members of `cfg.members` x `cfg.seeds`; their finished run folders.

    Resumes all members from `cfg.ckpt_path` (the ensemble's last.ckpt) if given.
    """
    planned = member_configs(cfg, Path(cfg.run_dir))  # all checked before a folder exists
    check_members(planned)
    for member in planned:
        validate(member)
    root, resume_step = prepare_run_folder(cfg)
    members = member_configs(cfg, root.path)
    settings = [validate(member) for member in members]
    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)
    with resume_hint(root), removed_on_failure(root, fresh=resume_step is None):
        return _fit(cfg, root, members, settings, resume_step, callbacks)


def _fit(
    cfg: DictConfig,
    root: RunFolder,
    members: Sequence[DictConfig],
    settings: Sequence[Any],
    resume_step: int | None,
    callbacks: Sequence[L.Callback],
) -> list[RunFolder]:
    runs = [RunFolder(Path(member.run_dir)) for member in members]
    corpora = [Corpus(generate_population(s.population)) for s in settings]
    built = [  # every member checked before any member's folder is written
        build_run(member, member_settings, corpus, run, resume_step)
        for member, member_settings, corpus, run in zip(
            members, settings, corpora, runs, strict=True
        )
    ]
    datamodules, modules = zip(*built, strict=True)
    OmegaConf.save(cfg, root.config, resolve=True)
    for member, run, corpus, datamodule in zip(members, runs, corpora, datamodules, strict=True):
        run.checkpoints.mkdir(parents=True, exist_ok=True)
        start_run(member, run, corpus, datamodule.baselines, resume_step)
    trainer_config = cfg.trainer
    module = EnsembleModule(
        modules,
        gradient_clip=trainer_config.get("gradient_clip_val"),
        log_every=trainer_config.get("log_every_n_steps", 50),
        compile=cfg.compile,
    )
    checkpoints = EnsembleCheckpoints(root.checkpoints, cfg.checkpoint.every_n_steps, module, runs)
    trainer = make_trainer(cfg, root, False, [checkpoints, *callbacks], gradient_clip_val=None)
    loggers = [run_loggers(run.path, resume_step) for run in runs]
    for member_loggers, member in zip(loggers, modules, strict=True):
        for logger in member_loggers:
            logger.log_hyperparams(member.hparams)
    module.attach(trainer, datamodules, [s.dynamics for s in settings], loggers)
    elapsed = fit_timed(trainer, module, EnsembleDataModule(datamodules), root, cfg.ckpt_path)
    checkpoints.save(trainer)
    for member_loggers in loggers:
        for logger in member_loggers:
            logger.finalize("success")
    ensemble = {"ensemble_members": len(runs), "ensemble_folder": str(root.path)}
    for run, member, member_settings in zip(runs, modules, settings, strict=True):
        measured = throughput(elapsed, member.tokens_trained, member.flops_trained)
        summarize(run, member_settings.phases, extra={**measured, **ensemble})
    return runs


class EnsembleCheckpoints(RunCheckpoints):
    """The ensemble's full state (last.ckpt) in its own folder; each member's weights
    (stepNNNNNN.ckpt, as a separate run keeps them) in the member's run folder."""

    def __init__(
        self, folder: Path, every: int, module: EnsembleModule, runs: Sequence[RunFolder]
    ) -> None:
        super().__init__(folder, every)
        self.module, self.runs = module, list(runs)

    def loggers(self, trainer: L.Trainer) -> list[Any]:
        return [logger for context in self.module.contexts for logger in context.loggers]

    def save_weights(self, trainer: L.Trainer) -> None:
        step = trainer.global_step
        for member, run in zip(self.module.members, self.runs, strict=True):
            path = weights_file(run.checkpoints, step)
            torch.save(weights_checkpoint(member, step), partial_file(path))
            os.replace(partial_file(path), path)


def weights_checkpoint(module: RecallModule, step: int) -> dict[str, Any]:
    """A member's weights as a separate run's weights-only Lightning checkpoint has them."""
    return {
        "epoch": 0,
        "global_step": step,
        "pytorch-lightning_version": L.__version__,
        "state_dict": {k: v.detach().cpu() for k, v in module.state_dict().items()},
        "hparams_name": "kwargs",
        "hyper_parameters": dict(module.hparams),
    }

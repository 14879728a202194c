"""`recall-train`: one training run from a Hydra config into a self-contained run folder.

recall-train                                   # the default run (a few minutes on a CPU)
recall-train data.n_individuals=2000 trainer.max_steps=3000
recall-train ckpt_path=runs/default/<time>/checkpoints/last.ckpt   # resume that run
"""

from __future__ import annotations

import logging
import os
import sys
import time
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import hydra
import lightning as L
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from lightning.pytorch.callbacks import TQDMProgressBar
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig, OmegaConf

from recall.cadence import Cadence
from recall.callbacks.attention import AttentionCircuits
from recall.callbacks.base import DynamicsCallback
from recall.callbacks.hallucination import Hallucination
from recall.callbacks.phases import PhaseTracker
from recall.checkpoints import RunCheckpoints, checkpoint_step
from recall.circuits import circuit_summary
from recall.config import CONFIG_DIR, to_dataclasses
from recall.data.corpus import Corpus
from recall.data.datamodule import BiographyDataModule, LoaderConfig
from recall.data.population import PopulationConfig, generate_population
from recall.data.schedules import Schedule, build_schedule
from recall.errors import ConfigError
from recall.hparams import log_hparams
from recall.loggers import run_loggers
from recall.model.gpt import GPTConfig
from recall.model.module import OptimConfig, RecallModule
from recall.model.patching import PatchingConfig, ReferencePatterns, load_reference
from recall.phases import PhaseConfig, detect_phases
from recall.plots.phase_plot import plot_phases
from recall.runs import RunFolder, new_run_folder, removed_on_failure, timestamped

RESUME_FIXED = ("seed", "data", "model")  # what a resumed run may not change
COMPILE_CHOICES = (False, True, "reduce-overhead", "max-autotune")  # true: default mode
SHARED_RUN_DIR = "RECALL_SHARED_RUN_DIR"  # rank 0's run folder, for the DDP processes it starts


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
    if cfg.stop_at_acc is not None and not 0 < cfg.stop_at_acc <= 1:
        raise ConfigError(f"stop_at_acc={cfg.stop_at_acc} must be in (0, 1] or null")
    schedule = build_schedule(
        OmegaConf.to_container(cfg.schedule, resolve=True),
        loader.distribution,
        population.n_individuals,
    )
    dynamics = dynamics_callbacks(cfg.callbacks, phases, population)
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
    """Check the keys `fit` reads (trainer.max_steps, checkpoint, threads); the step budget."""
    max_steps = cfg.trainer.get("max_steps", -1)
    if max_steps is None or max_steps <= 0:
        raise ConfigError(f"trainer.max_steps={max_steps} must be positive")
    if cfg.checkpoint.every_n_steps <= 0:
        raise ConfigError(
            f"checkpoint.every_n_steps={cfg.checkpoint.every_n_steps} must be positive"
        )
    if cfg.threads is not None and cfg.threads <= 0:
        raise ConfigError(f"threads={cfg.threads} must be positive or null (torch's default)")
    return max_steps


def dynamics_callbacks(
    cfg: DictConfig, phases: PhaseConfig, population: PopulationConfig
) -> list[DynamicsCallback]:
    """The enabled training-dynamics callbacks of the `callbacks` config group."""
    callbacks: list[DynamicsCallback] = []
    if cfg.phases:
        callbacks.append(PhaseTracker(phases))
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


def prepare_run_folder(cfg: DictConfig) -> tuple[RunFolder, bool]:
    """The run folder to write into and whether it was made by this call (not a resume)."""
    if cfg.ckpt_path:
        run = RunFolder.of_checkpoint(cfg.ckpt_path)
        saved = OmegaConf.to_container(OmegaConf.load(run.config))
        current = OmegaConf.to_container(cfg, resolve=True)
        for key in RESUME_FIXED:
            if saved.get(key) != current.get(key):
                raise ConfigError(
                    f"resuming cannot change '{key}': {run.config} has another value; start a "
                    "new run instead, or resume with the run's own config"
                )
        return run, False
    return new_run_folder(cfg.run_dir, unique=timestamped(cfg)), True


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
        return _fit(cfg, settings, corpus, RunFolder(shared), callbacks)
    run, fresh = prepare_run_folder(cfg)
    with removed_on_failure(run, fresh):
        return _fit(cfg, settings, corpus, run, callbacks)


def rank_zero_run_dir() -> Path | None:
    """Rank 0's run folder, in a process that Lightning's DDP launcher started beside it.

    The launcher re-runs the command line, where run_dir=...${now:...} would name a new
    folder; rank 0 passes its own instead, so a DDP run writes one folder.
    """
    shared = os.environ.get(SHARED_RUN_DIR)
    return Path(shared) if shared and rank_zero_only.rank > 0 else None


def _fit(
    cfg: DictConfig,
    settings: Settings,
    corpus: Corpus,
    run: RunFolder,
    callbacks: Sequence[L.Callback],
) -> RunFolder:
    population = corpus.population
    writer = rank_zero_only.rank == 0  # under DDP, one process writes the run folder
    resume_step = checkpoint_step(cfg.ckpt_path) if cfg.ckpt_path else None
    if resume_step is not None and (
        run.read_json(run.corpus)["fingerprint"] != population.fingerprint()
    ):
        raise ConfigError(
            f"the corpus generated now differs from the one {run.path} was trained on"
        )
    datamodule = BiographyDataModule(corpus, settings.loader, settings.schedule, cfg.seed)
    if writer:
        print(f"recall: run folder {run.path}", flush=True)
        OmegaConf.save(cfg, run.config, resolve=True)  # on resume: e.g. a longer max_steps
        run.phases.unlink(missing_ok=True)  # finished again only when this fit completes
        if resume_step is None:
            save_corpus(run, corpus, corpus_record(cfg.seed, corpus, datamodule.baselines))

    L.seed_everything(cfg.seed, workers=True, verbose=False)
    model_config = GPTConfig(vocab_size=len(corpus.tokenizer), max_len=corpus.max_len, **cfg.model)
    module = RecallModule(
        model=asdict(model_config),
        optim=asdict(settings.optim),
        eval_steps=settings.cadence.steps(settings.max_steps),
        baselines=datamodule.baselines,
        n_attributes=len(population.attributes),
        eval_batch_size=cfg.eval_batch_size,
        stop_at_acc=settings.stop_at_acc,
        compile=cfg.compile,
    )
    if settings.patching.enabled:
        reference = load_reference(settings.patching, population.fingerprint(), model_config)
        module.pattern_source = ReferencePatterns(reference, settings.patching.start_step)
    throughput = fit(cfg, run, module, datamodule, [*settings.dynamics, *callbacks], resume_step)
    if writer:
        summarize(run, settings.phases, extra=throughput)
    return run


def corpus_record(seed: int, corpus: Corpus, baselines: dict[str, float]) -> dict[str, Any]:
    """corpus.json: what regenerates the corpus, its fingerprint to check it, and the
    no-knowledge baselines of the evaluation sets (`baseline`: the seen set's)."""
    population = corpus.population
    return {
        "seed": seed,
        "fingerprint": population.fingerprint(),
        "n_individuals": population.n_seen,
        "n_unseen": population.n_unseen,
        "vocab_size": len(corpus.tokenizer),
        "max_len": corpus.max_len,
        "baseline": baselines["seen"],
        "baseline_uniform": baselines["uniform"],
        "unseen_baseline": baselines.get("unseen"),
    }


def save_corpus(run: RunFolder, corpus: Corpus, record: dict[str, Any]) -> None:
    """corpus.json and the tokenizer (tokenizer.json, loadable by `tokenizers` and
    `transformers`), so that the run's corpus and model can be used elsewhere."""
    run.write_json(run.corpus, record)
    corpus.tokenizer.save(run.tokenizer)


def fit(
    cfg: DictConfig,
    run: RunFolder,
    module: RecallModule,
    datamodule: L.LightningDataModule,
    callbacks: Sequence[L.Callback],
    resume_step: int | None = None,
) -> dict[str, float]:
    """Train `module` into `run` as `cfg` says (trainer, checkpoint, progress_refresh,
    ckpt_path) and return the throughput. The untrained model (step 0) and the final step
    are always checkpointed, besides every `checkpoint.every_n_steps` (RunCheckpoints)."""
    checkpoints = RunCheckpoints(run.checkpoints, cfg.checkpoint.every_n_steps)
    trainer = L.Trainer(
        **OmegaConf.to_container(cfg.trainer, resolve=True),
        default_root_dir=str(run.path),
        logger=run_loggers(run.path, resume_step),
        callbacks=[checkpoints, TQDMProgressBar(refresh_rate=cfg.progress_refresh), *callbacks],
        enable_checkpointing=False,  # RunCheckpoints writes them
        enable_model_summary=False,
        num_sanity_val_steps=0,
        limit_val_batches=0,
    )
    started = time.perf_counter()
    os.environ[SHARED_RUN_DIR] = str(run.path)  # inherited by processes a DDP launcher starts
    try:
        trainer.fit(module, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
    except SystemExit:
        if trainer.interrupted:  # Lightning turns Ctrl-C into SystemExit after its shutdown
            raise KeyboardInterrupt from None
        raise
    finally:
        os.environ.pop(SHARED_RUN_DIR, None)
    elapsed = time.perf_counter() - started
    checkpoints.save(trainer)  # the final step, unless it was just saved
    if trainer.is_global_zero:
        print(f"recall: finished in {elapsed:.0f} s; run folder {run.path}", flush=True)
    return {
        "wall_time_s": round(elapsed, 1),
        "tokens_per_s": round(module.tokens_trained / elapsed),
        "model_flops_per_s": round(module.flops_trained / elapsed),
    }


def summarize(run: RunFolder, config: PhaseConfig, extra: dict | None = None) -> dict:
    """Write phases.json and phase_plot.png from the run's metrics.csv."""
    steps, loss = run.curve("seen/attr_loss")
    _, acc = run.curve("seen/attr_acc")
    record = run.read_json(run.corpus)
    phases = detect_phases(steps, loss, record["baseline"], config)
    summary = {
        **phases.to_dict(),
        "baseline_uniform": record["baseline_uniform"],
        "final_step": int(steps[-1]),
        "final_attr_loss": float(loss[-1]),
        "final_attr_acc": float(acc[-1]),
        "circuits": circuit_summary(run),
        **(extra or {}),
    }
    run.write_json(run.phases, summary)
    log_hparams(run, summary)  # TensorBoard's HParams tab: config against outcome
    plot_phases(run, phases, title=f"{run.path.parent.name}/{run.path.name}")
    return summary


def resume_config(saved: DictConfig, overrides: list[str]) -> DictConfig:
    """A run's saved config with the command line's `key=value` overrides applied."""
    pairs = [o.lstrip("+~").split("=", 1) for o in overrides if "=" in o]
    for key, _ in pairs:
        if isinstance(OmegaConf.select(saved, key), DictConfig):
            raise ConfigError(f"resuming cannot switch the config group '{key}'; start a new run")
    return OmegaConf.merge(saved, OmegaConf.from_dotlist([f"{k}={v}" for k, v in pairs]))


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="train")
def _hydra_main(cfg: DictConfig) -> None:
    quiet_lightning()
    try:
        if cfg.ckpt_path:  # resume with the run's own config, plus what the command line changes
            saved = OmegaConf.load(RunFolder.of_checkpoint(cfg.ckpt_path).config)
            cfg = resume_config(saved, list(HydraConfig.get().overrides.task))
        elif HydraConfig.get().mode == RunMode.MULTIRUN:
            if launches_processes(cfg.trainer):
                raise ConfigError(
                    "a -m sweep cannot launch DDP processes itself (each would re-run the "
                    "sweep); run DDP configs one at a time, or on SLURM where srun starts them"
                )
            cfg.run_dir = HydraConfig.get().runtime.output_dir  # <hydra.sweep.dir>/<job number>
        train(cfg)
    except ConfigError as err:
        print(f"recall-train: error: {err}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print(
            "recall-train: interrupted; resume with ckpt_path=<run>/checkpoints/last.ckpt",
            file=sys.stderr,
        )
        sys.exit(130)


def launches_processes(trainer: DictConfig) -> bool:
    """Whether Lightning will start training processes by re-running the command line."""
    several = trainer.get("devices", 1) not in (1, "1", "auto")
    ddp = "ddp" in str(trainer.get("strategy", ""))
    return several and ddp and "SLURM_JOB_ID" not in os.environ


def main() -> None:
    """Console entry point (Hydra parses the command line)."""
    _hydra_main()


def quiet_lightning() -> None:
    """Lightning's (and fontTools') info lines and known-harmless warnings off; in every
    job process."""
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    logging.getLogger("fontTools").setLevel(logging.WARNING)  # PDF font subsetting chatter
    warnings.filterwarnings("ignore", ".*does not have many workers.*")
    warnings.filterwarnings("ignore", ".*LeafSpec.*is deprecated.*")

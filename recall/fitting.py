"""The steps every training run shares: its run folder, corpus files, module, trainer, summary.

Used by a single run (recall.train), an ensemble of runs (recall.ensemble) and fine-tuning.
"""

from __future__ import annotations

import logging
import math
import os
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import Container, DictConfig, OmegaConf

from recall.checkpoints import RunCheckpoints, resumable_step
from recall.circuits import circuit_summary
from recall.data.corpus import Corpus
from recall.data.datamodule import BiographyDataModule
from recall.errors import ConfigError
from recall.hparams import log_hparams
from recall.loggers import run_loggers
from recall.model.gpt import GPTConfig
from recall.model.module import RecallModule
from recall.model.patching import ReferencePatterns, load_reference
from recall.phases import PhaseConfig, detect_phases
from recall.plots.phase_plot import plot_phases
from recall.runs import RunFolder, new_run_folder, timestamped
from recall.settings import Settings, lightning_trainer

RESUME_FIXED = (
    *("seed", "seeds", "members", "data", "model", "optim", "schedule", "patching", "callbacks"),
    *("trainer.gradient_clip_val", "trainer.accumulate_grad_batches", "trainer.precision"),
)
"""What a resumed run may not change: what it trained on and how, and what it measured
(its config.yaml must describe the steps before the resume too)."""
SHARED_RUN_DIR = "RECALL_SHARED_RUN_DIR"  # rank 0's run folder, for the DDP processes it starts


def prepare_run_folder(cfg: DictConfig) -> tuple[RunFolder, int | None]:
    """The run folder to write into and the step it resumes from (None: a new folder, made
    by this call). Nothing is written when resuming; build_run checks the rest. A finished
    run at its last step is not resumed: its files would be rewritten with nothing trained."""
    if cfg.ckpt_path:
        run = RunFolder.of_checkpoint(cfg.ckpt_path)
        saved = run.load_config()
        for key in RESUME_FIXED:
            if _selected(saved, key) != _selected(cfg, key):
                raise ConfigError(
                    f"resuming cannot change '{key}': {run.config} has another value; start a "
                    "new run instead, or resume with the run's own config"
                )
        step = resumable_step(cfg.ckpt_path)
        if step >= cfg.trainer.max_steps and _finished(run):
            raise ConfigError(
                f"{run.path} is finished (step {step} of trainer.max_steps="
                f"{cfg.trainer.max_steps}); start a new run (a larger trainer.max_steps is "
                "refused unless the learning rate is constant)"
            )
        return run, step
    return new_run_folder(cfg.run_dir, unique=timestamped(cfg)), None


def _finished(run: RunFolder) -> bool:
    """A run, or every member of an ensemble, wrote its summary. A run stopped at its last
    step before that (killed while summarizing) is not: resuming completes it."""
    if not run.is_ensemble:
        return run.finished
    members = [RunFolder(config.parent) for config in run.path.glob("*/config.yaml")]
    return bool(members) and all(member.finished for member in members)


def _selected(cfg: DictConfig, key: str) -> Any:
    value = OmegaConf.select(cfg, key)
    return OmegaConf.to_container(value, resolve=True) if isinstance(value, Container) else value


@contextmanager
def resume_hint(run: RunFolder) -> Iterator[None]:
    """Ctrl-C names the checkpoint to resume from (recall.cli.reported prints it), or says
    that nothing was kept; outside removed_on_failure, to see what that left."""
    try:
        yield
    except KeyboardInterrupt:
        last = run.checkpoints / "last.ckpt"
        found = last.is_file()
        raise KeyboardInterrupt(
            f"resume with ckpt_path={last}" if found else "nothing trained was kept"
        ) from None


def rank_zero_run_dir() -> Path | None:
    """Rank 0's run folder, in a process that Lightning's DDP launcher started beside it.

    The launcher re-runs the command line, where run_dir=...${now:...} would name a new
    folder; rank 0 passes its own instead, so a DDP run writes one folder.
    """
    shared = os.environ.get(SHARED_RUN_DIR)
    return Path(shared) if shared and rank_zero_only.rank > 0 else None


def build_run(
    cfg: DictConfig, settings: Settings, corpus: Corpus, run: RunFolder, resume_step: int | None
) -> tuple[BiographyDataModule, RecallModule]:
    """The datamodule and the (seeded) module of a run, checked against what `run` was
    trained with when resuming. Writes nothing: start_run does, once every run is built."""
    datamodule = BiographyDataModule(
        corpus, settings.loader, settings.schedule, cfg.seed, settings.max_steps
    )
    if resume_step is not None:
        check_resume(run, settings, corpus, datamodule.baselines, resume_step)
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    model_config = GPTConfig(vocab_size=len(corpus.tokenizer), max_len=corpus.max_len, **cfg.model)
    module = RecallModule(
        model=asdict(model_config),
        optim=asdict(settings.optim),
        eval_steps=settings.cadence.steps(settings.max_steps),
        baselines=datamodule.baselines,
        n_attributes=len(corpus.population.attributes),
        eval_batch_size=cfg.eval_batch_size,
        stop_at_acc=settings.stop_at_acc,
        compile=cfg.compile,
    )
    if settings.patching.enabled:
        reference = load_reference(settings.patching, corpus.population.fingerprint(), model_config)
        module.pattern_source = ReferencePatterns(reference, settings.patching.start_step)
    return datamodule, module


def check_resume(
    run: RunFolder, settings: Settings, corpus: Corpus, baselines: dict[str, float], step: int
) -> None:
    """Refuse a resume that would make the run folder describe another run than the one
    trained: another corpus, another no-knowledge baseline (a new max_steps whose last step
    falls in another schedule piece), or other learning rates for the steps already
    trained (a new max_steps that moves a cosine decay begun before `step`)."""
    record = run.read_json(run.corpus)
    if record["fingerprint"] != corpus.population.fingerprint():
        raise ConfigError(
            f"the corpus generated now differs from the one {run.path} was trained on"
        )
    if not math.isclose(record["baseline"], baselines["seen"], rel_tol=1e-9):
        raise ConfigError(
            f"resuming with trainer.max_steps={settings.max_steps} ends the run in another "
            f"schedule piece, which changes its no-knowledge baseline ({record['baseline']:.4f}"
            f" -> {baselines['seen']:.4f}); start a new run instead"
        )
    trained = run.load_config().trainer.max_steps
    for s in range(step + 1 if trained != settings.max_steps else 0):
        before = settings.optim.lr_factor(s, trained)
        if not math.isclose(before, settings.optim.lr_factor(s, settings.max_steps)):
            raise ConfigError(
                f"resuming at step {step} with trainer.max_steps={settings.max_steps} (trained "
                f"for {trained}) changes the learning rate of steps already trained, from step "
                f"{s} on (the cosine decay moves); start a new run with the new max_steps"
            )


def start_run(
    cfg: DictConfig,
    run: RunFolder,
    corpus: Corpus,
    baselines: dict[str, float],
    resume_step: int | None,
) -> None:
    """Write the run's config and, for a new run, its corpus files (rank 0 under DDP); a
    resumed run's phases.json goes, as it is finished again only when this fit completes."""
    if rank_zero_only.rank != 0:
        return
    print(f"recall: run folder {run.path}", flush=True)
    OmegaConf.save(cfg, run.config, resolve=True)  # on resume: e.g. a longer max_steps
    run.phases.unlink(missing_ok=True)
    if resume_step is None:
        save_corpus(run, corpus, corpus_record(cfg.seed, corpus, baselines))


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
    trainer = make_trainer(cfg, run, run_loggers(run.path, resume_step), [checkpoints, *callbacks])
    elapsed = fit_timed(trainer, module, datamodule, run, cfg.get("ckpt_path"))
    checkpoints.save(trainer)  # the final step, unless it was just saved
    return throughput(elapsed, module.tokens_trained, module.flops_trained)


def make_trainer(
    cfg: DictConfig, run: RunFolder, logger: Any, callbacks: Sequence[L.Callback], **trainer: Any
) -> L.Trainer:
    """The Lightning trainer of cfg.trainer (`trainer` overrides keys of it), writing into
    `run`, with a progress bar; checkpoints come from the callbacks."""
    return lightning_trainer(
        {**OmegaConf.to_container(cfg.trainer, resolve=True), **trainer},
        cfg.progress_refresh,
        callbacks,
        default_root_dir=str(run.path),
        logger=logger,
    )


def fit_timed(
    trainer: L.Trainer,
    module: L.LightningModule,
    datamodule: L.LightningDataModule,
    run: RunFolder,
    ckpt_path: str | None,
) -> float:
    """trainer.fit, resuming from `ckpt_path` if given; the seconds it took."""
    started = time.perf_counter()
    os.environ[SHARED_RUN_DIR] = str(run.path)  # inherited by processes a DDP launcher starts
    try:
        trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path)
    except SystemExit:
        if trainer.interrupted:  # Lightning turns Ctrl-C into SystemExit after its shutdown
            raise KeyboardInterrupt from None
        raise
    finally:
        os.environ.pop(SHARED_RUN_DIR, None)
    elapsed = time.perf_counter() - started
    if trainer.is_global_zero:
        print(f"recall: finished in {elapsed:.0f} s; run folder {run.path}", flush=True)
    return elapsed


def throughput(elapsed: float, tokens: int, flops: int) -> dict[str, float]:
    return {
        "wall_time_s": round(elapsed, 1),
        "tokens_per_s": round(tokens / elapsed),
        "model_flops_per_s": round(flops / elapsed),
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


def quiet_lightning() -> None:
    """Lightning's (and fontTools') info lines and known-harmless warnings off; in every
    job process."""
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    logging.getLogger("fontTools").setLevel(logging.WARNING)  # PDF font subsetting chatter
    warnings.filterwarnings("ignore", ".*does not have many workers.*")
    warnings.filterwarnings("ignore", ".*LeafSpec.*is deprecated.*")

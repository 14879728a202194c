"""What every benchmark shares: the machine's matmul peak, the plain training loop that
`recall`'s is compared with, and results files."""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from omegaconf import DictConfig

from recall.config import compose
from recall.data.corpus import Corpus
from recall.data.datamodule import TrainingStream
from recall.data.population import generate_population
from recall.ensemble import train_ensemble
from recall.findings.report import cpu_name
from recall.flops import training_flops
from recall.model.gpt import GPT, GPTConfig
from recall.model.module import OptimConfig
from recall.settings import validate
from recall.train import train

RESULTS = Path(__file__).parent / "results"
CPU = torch.device("cpu")


def machine(device: torch.device) -> dict[str, Any]:
    """What the numbers were measured on."""
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
    else:
        name = f"{cpu_name()}, {torch.get_num_threads()} threads"
    return {"date": date.today().isoformat(), "device": name, "torch": torch.__version__}


def matmul_peak(device: torch.device, dtype: torch.dtype, size: int, seconds: float = 2.0) -> float:
    """Best FLOP/s of a square matmul: the machine's practical peak, the denominator of MFU."""
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    best = 0.0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        sync(device)
        started = time.perf_counter()
        for _ in range(4):
            a @ b
        sync(device)
        best = max(best, 4 * 2 * size**3 / (time.perf_counter() - started))
    return best


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def config(overrides: list[str]) -> DictConfig:
    """The train config with overrides, validated as recall-train would."""
    cfg = compose("train", overrides)
    validate(cfg)
    return cfg


def training_setup(cfg: DictConfig) -> tuple[TrainingStream, GPTConfig]:
    """The batch stream and model shape a run of `cfg` trains with."""
    settings = validate(cfg)
    corpus = Corpus(generate_population(settings.population))
    stream = TrainingStream(corpus, settings.schedule, settings.loader.batch_size, cfg.seed, 0)
    shape = GPTConfig(vocab_size=len(corpus.tokenizer), max_len=corpus.max_len, **cfg.model)
    return stream, shape


@dataclass(frozen=True)
class Throughput:
    """A timed window of training steps."""

    steps: int
    seconds: float
    tokens: int  # non-padding tokens
    positions: int  # batch x length of the padded batches
    flops: int  # the model's training FLOPs on the padded batches
    sampling_seconds: float = math.nan  # drawing and writing the batches (plain loop only)

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds

    @property
    def flops_per_s(self) -> float:
        return self.flops / self.seconds

    @property
    def padding_share(self) -> float:
        return 1 - self.tokens / self.positions

    @property
    def step_ms(self) -> float:
        return 1000 * self.seconds / self.steps


def plain_loop(
    cfg: DictConfig,
    steps: int,
    warmup: int,
    device: torch.device = CPU,
    autocast: torch.dtype | None = None,
) -> Throughput:
    """The same model, batches, optimizer, schedule and clipping as a recall run, written
    as the shortest PyTorch loop: the reference for the framework's overhead. `autocast`
    (e.g. bfloat16) stands for Lightning's mixed precision."""
    stream, shape = training_setup(cfg)
    L.seed_everything(cfg.seed, verbose=False)
    model = GPT(shape).to(device)
    optim = OptimConfig(**{**cfg.optim, "betas": tuple(cfg.optim.betas)})
    decay = [p for p in model.parameters() if p.dim() >= 2]
    rest = [p for p in model.parameters() if p.dim() < 2]
    groups = [
        {"params": decay, "weight_decay": optim.weight_decay},
        {"params": rest, "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW(groups, lr=optim.lr, betas=optim.betas)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: optim.lr_factor(s, warmup + steps)
    )
    tokens = positions = flops = 0
    sampling = 0.0
    for step in range(warmup + steps):
        if step == warmup:
            sync(device)
            started = time.perf_counter()
        drawn = time.perf_counter()
        batch = stream.batch(step).tokens
        if step >= warmup:
            sampling += time.perf_counter() - drawn
            tokens += int((batch > 0).sum())
            positions += batch.numel()
            flops += training_flops(shape, *batch.shape)
        batch = batch.to(device)
        with torch.autocast(device.type, dtype=autocast, enabled=autocast is not None):
            logits, _ = model(batch)
            targets = batch[:, 1:].flatten()
            loss = F.cross_entropy(logits[:, :-1].flatten(0, 1), targets, ignore_index=0)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.trainer.gradient_clip_val)
        optimizer.step()
        schedule.step()
    sync(device)
    return Throughput(steps, time.perf_counter() - started, tokens, positions, flops, sampling)


class StepClock(L.Callback):
    """Times training steps [warmup, warmup + steps) inside a recall run."""

    def __init__(self, warmup: int, steps: int) -> None:
        self.warmup, self.steps = warmup, steps
        self.tokens = self.positions = self.flops = 0
        self.started = self.seconds = math.nan

    def on_train_batch_start(self, trainer: L.Trainer, module: Any, batch: Any, idx: int) -> None:
        if trainer.global_step == self.warmup:
            sync(module.device)
            self.started = time.perf_counter()
        if self.warmup <= trainer.global_step < self.warmup + self.steps:
            for tokens, shape in member_batches(module, batch):
                self.tokens += int((tokens > 0).sum())
                self.positions += tokens.numel()
                self.flops += training_flops(shape, *tokens.shape)

    def on_train_batch_end(
        self, trainer: L.Trainer, module: Any, out: Any, batch: Any, idx: int
    ) -> None:
        if trainer.global_step == self.warmup + self.steps:  # counted after the step's update
            sync(module.device)
            self.seconds = time.perf_counter() - self.started

    def throughput(self) -> Throughput:
        return Throughput(self.steps, self.seconds, self.tokens, self.positions, self.flops)


def member_batches(module: Any, batch: Any) -> list[tuple[torch.Tensor, GPTConfig]]:
    """(tokens, model shape) of each member's batch: one for a run, k for an ensemble."""
    if isinstance(batch, list):
        return [(b.tokens, m.model.config) for b, m in zip(batch, module.members, strict=True)]
    return [(batch.tokens, module.model.config)]


def recall_loop(overrides: list[str], steps: int, warmup: int, run_dir: Path) -> Throughput:
    """Steps [warmup, warmup + steps) of a `recall-train` run (or ensemble, with seeds=[...])
    with these overrides, timed from inside; evaluation and checkpoints fall outside."""
    end = warmup + steps + 1
    cfg = config(
        [
            *overrides,
            "callbacks=none",
            f"trainer.max_steps={end}",
            f"eval.every={end}",
            f"checkpoint.every_n_steps={end}",
            f"run_dir={run_dir}",
        ]
    )
    clock = StepClock(warmup, steps)
    (train_ensemble if cfg.get("seeds") else train)(cfg, callbacks=[clock])
    return clock.throughput()


def population_overrides(n: int) -> list[str]:
    """data overrides for n individuals, with name pools just large enough for them."""
    side = math.ceil((2 * (n + 256)) ** (1 / 3))
    return [
        f"data.n_individuals={n}",
        *(f"data.{pool}={side}" for pool in ("first_names", "middle_names", "last_names")),
    ]


def write(name: str, results: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    return path

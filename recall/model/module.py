"""LightningModule: next-token training on whole biographies, attribute-level evaluation."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F

from recall.callbacks.base import DynamicsCallback
from recall.checkpoints import UNREADABLE, unreadable
from recall.data.corpus import BiographyBatch
from recall.errors import ConfigError
from recall.flops import training_flops
from recall.metrics import AttributeScores, value_positions, value_scores
from recall.model.gpt import GPT, GPTConfig


@dataclass(frozen=True)
class OptimConfig:
    """AdamW with linear warm-up then cosine decay to `min_lr_ratio` x lr at max_steps:
    over every step after warm-up, or with `decay_steps` over only the last ones, the
    learning rate constant before them (warm-up, stable, decay)."""

    lr: float = 3e-3
    warmup_steps: int = 20
    min_lr_ratio: float = 0.1
    weight_decay: float = 0.1
    betas: tuple[float, float] = (0.9, 0.95)
    decay_steps: int | None = None

    def __post_init__(self) -> None:
        if self.lr <= 0 or self.warmup_steps < 0 or not 0 <= self.min_lr_ratio <= 1:
            raise ConfigError(
                "optim: lr must be positive, warmup_steps >= 0, min_lr_ratio in [0, 1]"
            )
        if self.decay_steps is not None and self.decay_steps <= 0:
            raise ConfigError(f"optim.decay_steps={self.decay_steps} must be positive or null")
        if self.weight_decay < 0:
            raise ConfigError(f"optim.weight_decay={self.weight_decay} must be >= 0")
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise ConfigError(
                f"optim.betas={list(self.betas)} must be two numbers in [0, 1), e.g. [0.9,0.95]"
            )

    def lr_factor(self, step: int, max_steps: int) -> float:
        warmup = min(1.0, (step + 1) / self.warmup_steps) if self.warmup_steps else 1.0
        decay = max_steps if self.decay_steps is None else min(self.decay_steps, max_steps)
        progress = max(0, min(step, max_steps) - (max_steps - decay)) / max(1, decay)
        cosine = 0.5 * (1 + math.cos(math.pi * progress))
        return warmup * (self.min_lr_ratio + (1 - self.min_lr_ratio) * cosine)


class RecallModule(L.LightningModule):
    """Trains a GPT on biographies and evaluates attribute loss/accuracy at set steps.

    `baselines` holds each evaluation set's no-knowledge baseline (recall.data.baseline)
    and log K as "uniform". With `stop_at_acc`, training ends at the first evaluation
    whose seen accuracy reaches it (sweeps then spend no steps past what they measure).
    """

    def __init__(
        self,
        model: dict[str, Any],
        optim: dict[str, Any],
        eval_steps: list[int],
        baselines: dict[str, float],
        n_attributes: int,
        eval_batch_size: int = 256,
        stop_at_acc: float | None = None,
        compile: bool | str = False,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.model = GPT(GPTConfig(**model))
        # torch.compile the training forward only (a function, so that the state dict keeps
        # plain keys); evaluation and attention patterns use the model as it is. A string
        # is torch.compile's mode, e.g. reduce-overhead (CUDA graphs).
        self.train_forward = self.model.forward
        if compile:
            mode = compile if isinstance(compile, str) else None
            self.train_forward = torch.compile(self.model.forward, mode=mode)
        self.optim = OptimConfig(**{**optim, "betas": tuple(optim.get("betas", (0.9, 0.95)))})
        self.eval_steps = set(eval_steps)
        # What this process trained on, for throughput: non-padding tokens, and the model's
        # training FLOPs on the padded batches (all processes' after training ends). Tokens
        # are summed on the batch's device: reading them each step would stall a GPU.
        self._tokens = torch.zeros((), dtype=torch.long)
        self.tokens_trained = 0
        self.flops_trained = 0
        # Attention patching: (tokens, step) -> patterns replacing the model's own, or None.
        # A plain attribute, so a reference model inside it is not saved with this module.
        self.pattern_source: Callable[[torch.Tensor, int], list[torch.Tensor] | None] | None = None
        self._evaluated_step: int | None = None

    @property
    def baseline(self) -> float:
        """The no-knowledge baseline of the seen evaluation set (the phase detector's)."""
        return self.hparams.baselines["seen"]

    def given_patterns(self, tokens: torch.Tensor) -> list[torch.Tensor] | None:
        """The attention patterns replacing the model's own on `tokens` (patching), or None."""
        if self.pattern_source is None:
            return None
        return self.pattern_source(tokens, self.global_step)

    def training_step(self, batch: BiographyBatch, batch_idx: int) -> torch.Tensor:
        logits, _ = self.train_forward(batch.tokens, self.given_patterns(batch.tokens))
        targets = batch.tokens[:, 1:].flatten()
        world_size = self.trainer.world_size
        if world_size == 1:
            loss = F.cross_entropy(logits[:, :-1].flatten(0, 1), targets, ignore_index=0)
        else:  # the mean over the global batch's tokens, once DDP averages the gradients
            summed = F.cross_entropy(
                logits[:, :-1].flatten(0, 1), targets, ignore_index=0, reduction="sum"
            )
            count = self.trainer.strategy.reduce((targets > 0).sum().float(), reduce_op="sum")
            loss = summed * world_size / count
        self.log("train/loss", loss, prog_bar=True)
        self._tokens = self._tokens.to(batch.tokens.device) + (batch.tokens > 0).sum()
        self.flops_trained += training_flops(self.model.config, *batch.tokens.shape)
        return loss

    def on_train_end(self) -> None:
        """Read the token count; sum the counters over data-parallel processes."""
        counts = torch.tensor([float(self._tokens), float(self.flops_trained)], dtype=torch.float64)
        if self.trainer.world_size > 1:
            counts = self.trainer.strategy.reduce(counts.to(self.device), reduce_op="sum")
        self.tokens_trained, self.flops_trained = (int(x) for x in counts.tolist())

    def configure_optimizers(self) -> dict[str, Any]:
        params = [p for p in self.parameters() if p.requires_grad]
        groups = [
            {
                "params": [p for p in params if p.dim() >= 2],
                "weight_decay": self.optim.weight_decay,
            },
            {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
        ]
        optimizer = torch.optim.AdamW(groups, lr=self.optim.lr, betas=self.optim.betas)
        max_steps = self.trainer.max_steps
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: self.optim.lr_factor(step, max_steps)
        )
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }

    @contextmanager
    def _inference(self) -> Iterator[None]:
        """Eval mode without gradients, restoring the previous mode afterwards."""
        was_training = self.training
        self.eval()
        try:
            with torch.inference_mode():
                yield
        finally:
            self.train(was_training)

    def score(self, batch: BiographyBatch) -> AttributeScores:
        """Attribute scores of a (possibly large) batch, in chunks."""
        parts = []
        with self._inference():
            for start in range(0, len(batch), self.hparams.eval_batch_size):
                chunk = batch.select(slice(start, start + self.hparams.eval_batch_size))
                tokens = chunk.tokens.to(self.device)
                value_attr = chunk.value_attr.to(self.device)
                positions = value_positions(value_attr)
                logits, _ = self.model(tokens, self.given_patterns(tokens), positions=positions)
                n_attr = self.hparams.n_attributes
                parts.append(value_scores(logits, positions, tokens, value_attr, n_attr))
        return AttributeScores.cat(parts)

    def attention_patterns(self, batch: BiographyBatch) -> list[torch.Tensor]:
        """Each layer's attention pattern [B, H, L, L] on a batch, on the CPU (the patched-in
        patterns where attention patching is on)."""
        with self._inference():
            tokens = batch.tokens.to(self.device)
            patterns = self.given_patterns(tokens)
            if patterns is None:
                _, patterns = self.model(tokens, return_patterns=True)
        return [p.cpu() for p in patterns]

    def evaluate(self) -> dict[str, float]:
        """Score the seen set, collect every dynamics callback's metrics, log them as one row."""
        datamodule = self.trainer.datamodule
        scores = {"seen": self.score(datamodule.eval_batches["seen"])}
        metrics = {
            "baseline": self.baseline,
            "baseline_uniform": self.hparams.baselines["uniform"],
            "seen/attr_loss": scores["seen"].attr_loss,
            "seen/attr_acc": scores["seen"].attr_acc,
        }
        for bucket, rows in datamodule.eval_buckets.items():  # head / torso / tail
            if rows.any():
                part = scores["seen"].select(torch.from_numpy(rows))
                metrics[f"seen/attr_loss/{bucket}"] = part.attr_loss
                metrics[f"seen/attr_acc/{bucket}"] = part.attr_acc
        for callback in self.trainer.callbacks:
            if isinstance(callback, DynamicsCallback):
                metrics.update(callback.on_evaluation(self.trainer, self, scores))
        for logger in self.loggers:
            logger.log_metrics(metrics, step=self.global_step)
        return metrics

    def on_train_start(self) -> None:
        if self.global_step == 0:
            self.evaluate()

    def on_train_batch_end(self, outputs: Any, batch: BiographyBatch, batch_idx: int) -> None:
        self.evaluate_if_due()

    def evaluate_if_due(self) -> None:
        """This step's evaluation, if the step is an evaluation step and it has not run
        yet. RunCheckpoints calls it before saving (callbacks' hooks run before the
        module's), so that the state saved at a step includes that step's evaluation."""
        if self.global_step not in self.eval_steps or self._evaluated_step == self.global_step:
            return
        self._evaluated_step = self.global_step
        metrics = self.evaluate()
        self.log("seen/attr_acc", metrics["seen/attr_acc"], prog_bar=True, logger=False)
        stop_at = self.hparams.stop_at_acc
        if stop_at is not None and metrics["seen/attr_acc"] >= stop_at:
            self.trainer.should_stop = True


def checkpoint_model(path: str | Path) -> GPT:
    """The GPT saved in a RecallModule checkpoint (weights and shape, nothing else)."""
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        model = GPT(GPTConfig(**checkpoint["hyper_parameters"]["model"]))
        prefix = "model."
        weights = checkpoint["state_dict"].items()
        model.load_state_dict({k[len(prefix) :]: v for k, v in weights if k.startswith(prefix)})
    except UNREADABLE as err:
        raise unreadable(path, err) from None
    return model

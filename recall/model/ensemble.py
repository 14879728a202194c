"""LightningModule training k RecallModules at once on stacked weights (one per member).

Each member keeps everything a separate run has: its own data stream, AdamW state
(its own parameter groups, so optimiser settings may differ), learning-rate schedule,
gradient-norm clipping, evaluation, dynamics callbacks and loggers. Only the training
forward and backward are shared, as one batched computation (recall.model.stacked).
The sum of the members' losses has, for each member's weights, exactly that member's
gradient, so a member trains as its separate run would.

A member's `RecallModule` evaluates itself as in a separate run; what it reads from
`trainer` (its datamodule, callbacks, loggers and the step) comes from a `MemberTrainer`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn

from recall.callbacks.base import DynamicsCallback
from recall.data.corpus import BiographyBatch
from recall.flops import training_flops
from recall.model.module import RecallModule
from recall.model.stacked import StackedGPT, stack_padded


class MemberTrainer:
    """The part of a `lightning.Trainer` a member's module and callbacks read, with the
    member's own datamodule, callbacks and loggers and the ensemble trainer's step."""

    def __init__(
        self,
        trainer: L.Trainer,
        datamodule: L.LightningDataModule,
        callbacks: Sequence[DynamicsCallback],
        loggers: Sequence[Any],
    ) -> None:
        self._trainer = trainer
        self.datamodule = datamodule
        self.callbacks = list(callbacks)
        self.loggers = list(loggers)

    @property
    def global_step(self) -> int:
        return self._trainer.global_step


class EnsembleModule(L.LightningModule):
    """Trains `members` in lockstep; `log_every` is the trainer's log_every_n_steps (when
    train/loss rows are written, as a separate run writes them); `compile` as a run's."""

    def __init__(
        self,
        members: Sequence[RecallModule],
        gradient_clip: float | None,
        log_every: int,
        compile: bool | str = False,
    ) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)
        self.automatic_optimization = False  # per-member clipping, one optimiser step
        self.stacked = StackedGPT([m.model for m in members])
        self.train_forward = self.stacked.__call__  # torch.compile'd if asked, as in a run
        if compile:
            mode = compile if isinstance(compile, str) else None
            self.train_forward = torch.compile(self.stacked.__call__, mode=mode)
        self.gradient_clip = gradient_clip
        self.log_every = log_every
        self.contexts: list[MemberTrainer] = []  # set by `attach` once the trainer exists
        self._evaluated_step: int | None = None
        self._tokens = torch.zeros(len(members), dtype=torch.long)  # by this process, as a
        # run's: not restored on resume, so throughput divides them by this process's time

    def attach(
        self,
        trainer: L.Trainer,
        datamodules: Sequence[L.LightningDataModule],
        callbacks: Sequence[Sequence[DynamicsCallback]],
        loggers: Sequence[Sequence[Any]],
    ) -> None:
        """Give every member its own view of the trainer."""
        self.contexts = [
            MemberTrainer(trainer, *parts)
            for parts in zip(datamodules, callbacks, loggers, strict=True)
        ]
        for member, context in zip(self.members, self.contexts, strict=True):
            member.trainer = context

    def training_step(self, batches: list[BiographyBatch], batch_idx: int) -> torch.Tensor:
        tokens = stack_padded([b.tokens for b in batches])
        logits = self.train_forward(tokens, self._given_patterns(batches, tokens.shape[-1]))
        losses = []
        for i, (member, batch) in enumerate(zip(self.members, batches, strict=True)):
            length, vocab = batch.tokens.shape[1], member.model.config.vocab_size
            member_logits = logits[i, :, : length - 1, :vocab]
            targets = batch.tokens[:, 1:].flatten()
            losses.append(F.cross_entropy(member_logits.flatten(0, 1), targets, ignore_index=0))
        loss = torch.stack(losses).sum()
        optimizer = self.optimizers()
        optimizer.zero_grad()
        self.manual_backward(loss)
        if self.gradient_clip:
            for member in self.members:
                nn.utils.clip_grad_norm_(member.parameters(), self.gradient_clip)
        step = self.global_step
        optimizer.step()
        self.lr_schedulers().step()
        self._count(batches)
        if self.log_every and (step + 1) % self.log_every == 0:  # as a separate run (0: never)
            for context, member_loss in zip(self.contexts, losses, strict=True):
                for logger in context.loggers:
                    logger.log_metrics({"train/loss": member_loss.item(), "epoch": 0}, step)
        self.log("train/loss", loss / len(losses), prog_bar=True, logger=False)
        return loss

    def _given_patterns(
        self, batches: list[BiographyBatch], length: int
    ) -> list[torch.Tensor] | None:
        """Attention patching: each member's patterns, padded to the stacked length."""
        given = [m.given_patterns(b.tokens) for m, b in zip(self.members, batches, strict=True)]
        if all(g is None for g in given):
            return None
        layers = zip(*given, strict=True)
        return [
            torch.stack([F.pad(p, (0, length - p.shape[-1]) * 2) for p in layer])
            for layer in layers
        ]

    def _count(self, batches: list[BiographyBatch]) -> None:
        counts = torch.stack([(b.tokens > 0).sum() for b in batches])
        self._tokens = self._tokens.to(counts.device) + counts
        for member, batch in zip(self.members, batches, strict=True):
            member.flops_trained += training_flops(member.model.config, *batch.tokens.shape)

    def configure_optimizers(self) -> dict[str, Any]:
        """One AdamW with each member's own parameter groups, settings and schedule."""
        groups, factors = [], []
        max_steps = self.trainer.max_steps
        for member in self.members:
            optim = member.optim
            params = [p for p in member.parameters() if p.requires_grad]
            for decayed in (True, False):
                groups.append(
                    {
                        "params": [p for p in params if (p.dim() >= 2) == decayed],
                        "weight_decay": optim.weight_decay if decayed else 0.0,
                        "lr": optim.lr,
                        "betas": optim.betas,
                    }
                )
                factors.append(lambda step, optim=optim: optim.lr_factor(step, max_steps))
        optimizer = torch.optim.AdamW(groups)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factors)
        return {"optimizer": optimizer, "lr_scheduler": scheduler}

    def on_train_start(self) -> None:
        if self.global_step == 0:
            for member in self.members:
                member.evaluate()

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        self.evaluate_if_due()

    def evaluate_if_due(self) -> None:
        """Every member's evaluation of this step, once (see RecallModule.evaluate_if_due)."""
        step = self.global_step
        if step not in self.members[0].eval_steps or self._evaluated_step == step:
            return
        self._evaluated_step = step
        accs = [member.evaluate()["seen/attr_acc"] for member in self.members]
        self.log("seen/attr_acc", sum(accs) / len(accs), prog_bar=True, logger=False)

    def on_train_end(self) -> None:
        counts = self._tokens.tolist()
        for member, context, tokens in zip(self.members, self.contexts, counts, strict=True):
            member.tokens_trained = int(tokens)
            for callback in context.callbacks:
                callback.on_train_end(context, member)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Each member's callback states (a separate run's trainer would save them)."""
        checkpoint["member_callbacks"] = [
            [callback.state_dict() for callback in context.callbacks] for context in self.contexts
        ]

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        for context, states in zip(self.contexts, checkpoint["member_callbacks"], strict=True):
            for callback, state in zip(context.callbacks, states, strict=True):
                callback.load_state_dict(state)

"""Attention circuits: where the model looks when it must recall a fact.

On a fixed evaluation batch, through the explicit attention path, per layer and head:
- name_to_name: attention from the last name token to the other two name tokens of the
  same mention (the model assembling the full name);
- attr_to_name: attention from the position that predicts the first token of a value
  to the name tokens (all mentions so far): the recall circuit;
- attr_to_text: from the same position to every other token except the begin token
  (template words, other values), which falls as the circuit forms;
- entropy: attention entropy per query, divided by log(context length), averaged over
  the tokens of the biographies.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import lightning as L
import matplotlib.pyplot as plt
import torch
from torch import Tensor

from recall.callbacks.base import DynamicsCallback, tensorboards
from recall.data.corpus import BiographyBatch
from recall.errors import ConfigError

if TYPE_CHECKING:
    from recall.metrics import AttributeScores
    from recall.model.module import RecallModule

METRICS = ("name_to_name", "attr_to_name", "attr_to_text", "entropy")


def circuit_metrics(patterns: list[Tensor], batch: BiographyBatch) -> dict[str, Tensor]:
    """Each metric as a [n_layer, n_head] tensor, from patterns [B, H, L, L] per layer."""
    B, L = batch.tokens.shape
    rows = torch.arange(B)[:, None]
    name_start = batch.name_spans[..., 0]  # [B, A]
    attr_query = batch.value_spans[..., 0] - 1  # predicts the first value token
    positions = torch.arange(L)
    is_name = (
        (positions[None, None] >= name_start[..., None])
        & (positions[None, None] < name_start[..., None] + 3)
    ).any(1)  # [B, L]
    is_text = ~is_name & (positions > 0)[None] & (batch.tokens > 0)
    real_query = (batch.tokens > 0) & (positions > 0)[None]  # [B, L]
    log_context = torch.log(positions.clamp(min=1) + 1.0)  # log(q + 1)
    out = {m: [] for m in METRICS}
    for pattern in patterns:
        p = pattern.float().transpose(0, 1)  # [H, B, L, L]
        last_name = name_start + 2
        own_name = p[:, rows, last_name, name_start] + p[:, rows, last_name, name_start + 1]
        out["name_to_name"].append(own_name.mean((1, 2)))  # [H, B, A] -> [H]
        attr = p[:, rows, attr_query]  # [H, B, A, L]
        out["attr_to_name"].append((attr * is_name[:, None]).sum(-1).mean((1, 2)))
        out["attr_to_text"].append((attr * is_text[:, None]).sum(-1).mean((1, 2)))
        entropy = -(p * torch.log(p.clamp(min=1e-12))).sum(-1) / log_context  # [H, B, L]
        out["entropy"].append((entropy * real_query).sum((1, 2)) / real_query.sum())
    return {m: torch.stack(v) for m, v in out.items()}


class AttentionCircuits(DynamicsCallback):
    """Logs attn/<metric>/layer<l> (head mean) and attn/<metric>/layer<l>/head<h>, and
    every `figure_every` evaluations a layer x head heatmap of attr_to_name and one
    example attention map to TensorBoard."""

    def __init__(self, n_biographies: int = 64, figure_every: int = 5) -> None:
        if n_biographies <= 0 or figure_every <= 0:
            raise ConfigError(
                "callbacks.attention: n_biographies and figure_every must be positive"
            )
        self.n_biographies, self.figure_every = n_biographies, figure_every
        self.n_evaluations = 0

    def on_evaluation(
        self, trainer: L.Trainer, module: RecallModule, scores: dict[str, AttributeScores]
    ) -> dict[str, float]:
        batch = trainer.datamodule.eval_batches["seen"].select(slice(0, self.n_biographies))
        patterns = module.attention_patterns(batch)
        values = circuit_metrics(patterns, batch)
        metrics = {}
        for name, per_head in values.items():
            for layer, heads in enumerate(per_head):
                metrics[f"attn/{name}/layer{layer}"] = heads.mean().item()
                for head, value in enumerate(heads.tolist()):
                    metrics[f"attn/{name}/layer{layer}/head{head}"] = value
        if self.n_evaluations % self.figure_every == 0:
            self._log_figures(trainer, module.global_step, values["attr_to_name"], patterns, batch)
        self.n_evaluations += 1
        return metrics

    def _log_figures(
        self,
        trainer: L.Trainer,
        step: int,
        attr_to_name: Tensor,
        patterns: list[Tensor],
        batch: BiographyBatch,
    ) -> None:
        loggers = tensorboards(trainer)
        if not loggers:
            return
        heatmap = attr_to_name_heatmap(attr_to_name, step)
        length = int((batch.tokens[0] > 0).sum())
        example = attention_map(patterns[-1][0].mean(0)[:length, :length], step)
        for logger in loggers:
            logger.experiment.add_figure("attn/attr_to_name_heatmap", heatmap, step, close=False)
            logger.experiment.add_figure("attn/example_last_layer", example, step, close=False)
        plt.close(heatmap)
        plt.close(example)

    def state_dict(self) -> dict:
        return {"n_evaluations": self.n_evaluations}

    def load_state_dict(self, state_dict: dict) -> None:
        self.n_evaluations = state_dict["n_evaluations"]


def attr_to_name_heatmap(values: Tensor, step: int) -> plt.Figure:
    n_layer, n_head = values.shape
    fig, ax = plt.subplots(figsize=(1.2 + 0.6 * n_head, 1.0 + 0.5 * n_layer))
    image = ax.imshow(values.numpy(), vmin=0, vmax=1, cmap="viridis", aspect="auto")
    ax.set_xlabel("head")
    ax.set_ylabel("layer")
    ax.set_xticks(range(n_head))
    ax.set_yticks(range(n_layer))
    ax.set_title(f"attr_to_name, step {step}", fontsize=9)
    fig.colorbar(image, ax=ax)
    fig.tight_layout()
    return fig


def attention_map(pattern: Tensor, step: int) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(4.5, 4))
    ax.imshow(pattern.numpy() ** 0.5, cmap="magma")  # sqrt: faint patterns stay visible
    ax.set_xlabel("key position")
    ax.set_ylabel("query position")
    ax.set_title(f"last layer, head mean, step {step}", fontsize=9)
    fig.tight_layout()
    return fig

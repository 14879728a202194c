"""Attention circuits: where the model looks when it must recall a fact.

On a fixed evaluation batch, through the explicit attention path, per layer and head:
- name_to_name: attention from the last token of each name mention to the other tokens
  of the same mention (the model assembling the full name);
- attr_to_name: attention from the position that predicts the first token of a value
  to the name tokens (all mentions so far): the recall circuit;
- attr_to_text: from the same position to every other token except the begin token
  (template words, other values), which falls as the circuit forms;
- entropy: attention entropy per query, divided by log(context length), averaged over
  the tokens of the biographies.

A mass means little alone: the chance level of each of the first three is the mass that
uniform causal attention (1 / (q + 1) on each key 0..q) gives the same keys from the same
queries, so a value above it is a circuit and a value near it is attention spread out.
Names are spans [start, end) of any length; metrics and chance levels read the same
positions, from `circuit_positions`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import lightning as L
import matplotlib.pyplot as plt
import torch
from torch import Tensor

from recall.callbacks.base import DynamicsCallback, tensorboards
from recall.errors import ConfigError

if TYPE_CHECKING:
    from recall.data.corpus import BiographyBatch
    from recall.metrics import AttributeScores
    from recall.model.module import RecallModule

METRICS = ("name_to_name", "attr_to_name", "attr_to_text", "entropy")
CIRCUITS = METRICS[:3]  # the metrics that are an attention mass, with a chance level


def circuit_positions(batch: BiographyBatch) -> dict[str, tuple[Tensor, Tensor]]:
    """Each circuit's query positions [B, A] (one per attribute sentence) and key mask
    [B, A, L]: the one place that says which positions a circuit reads."""
    L = batch.tokens.shape[1]
    start, end = batch.name_spans[..., 0], batch.name_spans[..., 1]  # [B, A]
    positions = torch.arange(L)
    in_name = (positions >= start[..., None]) & (positions < end[..., None])  # [B, A, L]
    is_name = in_name.any(1)  # [B, L]: every mention's tokens
    is_text = ~is_name & (positions > 0) & (batch.tokens > 0)
    last_name = end - 1
    attr_query = batch.value_spans[..., 0] - 1  # predicts the first value token
    A = start.shape[1]
    return {
        "name_to_name": (last_name, in_name & (positions < last_name[..., None])),
        "attr_to_name": (attr_query, is_name[:, None].expand(-1, A, -1)),
        "attr_to_text": (attr_query, is_text[:, None].expand(-1, A, -1)),
    }


def attention_mass(pattern: Tensor, query: Tensor, keys: Tensor) -> Tensor:
    """Per head [H], the attention from `query` [B, A] to `keys` [B, A, L], averaged over
    biographies and sentences; `pattern` is [B, H, L, L]."""
    rows = torch.arange(query.shape[0])[:, None]
    attention = pattern.float().transpose(0, 1)[:, rows, query]  # [H, B, A, L]
    return (attention * keys).sum(-1).mean((1, 2))


def uniform_mass(query: Tensor, keys: Tensor) -> Tensor:
    """What `attention_mass` gives for uniform causal attention: the share of keys 0..q
    in the mask, averaged like it (the metric's chance level)."""
    visible = torch.arange(keys.shape[-1]) <= query[..., None]  # [B, A, L]
    return ((keys & visible).sum(-1) / (query + 1.0)).mean()


def chance_levels(batch: BiographyBatch) -> dict[str, float]:
    """Each circuit's chance level on this batch (the same for every layer and head)."""
    where = circuit_positions(batch)
    return {name: uniform_mass(query, keys).item() for name, (query, keys) in where.items()}


def normalised_entropy(pattern: Tensor, batch: BiographyBatch) -> Tensor:
    """Per head [H], attention entropy / log(q + 1), averaged over the biographies' tokens
    after the begin token (1 for uniform causal attention)."""
    positions = torch.arange(batch.tokens.shape[1])
    real_query = (batch.tokens > 0) & (positions > 0)  # [B, L]
    p = pattern.float().transpose(0, 1)  # [H, B, L, L]
    log_context = torch.log(positions.clamp(min=1) + 1.0)  # log(q + 1)
    entropy = -(p * torch.log(p.clamp(min=1e-12))).sum(-1) / log_context  # [H, B, L]
    return (entropy * real_query).sum((1, 2)) / real_query.sum()


def circuit_metrics(patterns: list[Tensor], batch: BiographyBatch) -> dict[str, Tensor]:
    """Each metric as a [n_layer, n_head] tensor, from patterns [B, H, L, L] per layer."""
    where = circuit_positions(batch)
    out = {name: [attention_mass(p, *where[name]) for p in patterns] for name in CIRCUITS}
    out["entropy"] = [normalised_entropy(p, batch) for p in patterns]
    return {m: torch.stack(out[m]) for m in METRICS}


def circuit_log(values: dict[str, Tensor], chance: dict[str, float]) -> dict[str, float]:
    """The logged scalars: attn/<metric>/layer<l> (head mean), .../head<h>, and for the
    circuits .../best (max over heads: one head may form a circuit the mean dilutes) and
    .../chance (the uniform-attention level to read both against)."""
    metrics = {}
    for name, per_head in values.items():
        for layer, heads in enumerate(per_head):
            key = f"attn/{name}/layer{layer}"
            metrics[key] = heads.mean().item()
            if name in chance:
                metrics[f"{key}/best"] = heads.max().item()
                metrics[f"{key}/chance"] = chance[name]
            for head, value in enumerate(heads.tolist()):
                metrics[f"{key}/head{head}"] = value
    return metrics


class AttentionCircuits(DynamicsCallback):
    """Logs attn/<metric>/layer<l> (head mean), attn/<metric>/layer<l>/head<h>, and for
    name_to_name, attr_to_name, attr_to_text .../best and .../chance (see `circuit_log`);
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
        metrics = circuit_log(values, chance_levels(batch))
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

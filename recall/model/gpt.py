"""A small nanoGPT-style causal decoder with two attention paths.

The fast path uses ``scaled_dot_product_attention`` for training. The explicit path
materialises the attention patterns so they can be returned (for circuit metrics) or
replaced by given ones (for attention patching); both paths compute the same function.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from recall.errors import ConfigError


@dataclass(frozen=True)
class GPTConfig:
    vocab_size: int
    max_len: int
    n_layer: int = 2
    n_head: int = 4
    d_model: int = 128

    def __post_init__(self) -> None:
        for key in ("vocab_size", "max_len", "n_layer", "n_head", "d_model"):
            if getattr(self, key) <= 0:
                raise ConfigError(f"model.{key}={getattr(self, key)} must be positive")
        if self.d_model % self.n_head:
            raise ConfigError(
                f"model.d_model={self.d_model} must be divisible by model.n_head={self.n_head}"
            )


class CausalSelfAttention(nn.Module):
    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.n_head = config.n_head
        self.qkv = nn.Linear(config.d_model, 3 * config.d_model, bias=False)
        self.proj = nn.Linear(config.d_model, config.d_model, bias=False)

    def forward(
        self, x: Tensor, pattern: Tensor | None = None, return_pattern: bool = False
    ) -> tuple[Tensor, Tensor | None]:
        B, L, D = x.shape
        q, k, v = self._heads(x)
        if pattern is None and not return_pattern:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # (B, H, L, Dh)
        else:
            if pattern is None:
                pattern = self._softmax(q, k)
            y = pattern @ v
        y = y.transpose(1, 2).reshape(B, L, D)
        return self.proj(y), pattern if return_pattern else None

    def pattern(self, x: Tensor) -> Tensor:
        """The attention pattern (B, H, L, L) alone, without the values it would mix."""
        q, k, _ = self._heads(x)
        return self._softmax(q, k)

    def _heads(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Queries, keys and values, each (B, H, L, D / H)."""
        B, L, D = x.shape
        q, k, v = self.qkv(x).split(D, dim=2)
        return tuple(t.view(B, L, self.n_head, D // self.n_head).transpose(1, 2) for t in (q, k, v))

    @staticmethod
    def _softmax(q: Tensor, k: Tensor) -> Tensor:
        L = q.shape[-2]
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(q.shape[-1])  # (B, H, L, L)
        causal = torch.ones(L, L, dtype=torch.bool, device=q.device).tril()
        return scores.masked_fill(~causal, float("-inf")).softmax(dim=-1)


class Block(nn.Module):
    """Pre-LayerNorm transformer block: x + attn(ln(x)), then x + mlp(ln(x))."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.ln_attn = nn.LayerNorm(config.d_model)
        self.attn = CausalSelfAttention(config)
        self.ln_mlp = nn.LayerNorm(config.d_model)
        self.mlp = nn.Sequential(
            nn.Linear(config.d_model, 4 * config.d_model, bias=False),
            nn.GELU(),
            nn.Linear(4 * config.d_model, config.d_model, bias=False),
        )

    def forward(
        self, x: Tensor, pattern: Tensor | None = None, return_pattern: bool = False
    ) -> tuple[Tensor, Tensor | None]:
        a, pattern = self.attn(self.ln_attn(x), pattern, return_pattern)
        x = x + a
        return x + self.mlp(self.ln_mlp(x)), pattern


class GPT(nn.Module):
    """Decoder-only transformer returning logits at every position."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.config = config
        self.tok_emb = nn.Embedding(config.vocab_size, config.d_model)
        self.pos_emb = nn.Embedding(config.max_len, config.d_model)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.d_model)
        self.head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        self.head.weight = self.tok_emb.weight  # tied input and output embeddings
        self.apply(self._init_weights)
        for name, p in self.named_parameters():  # GPT-2: scale residual projections by depth
            if name.endswith(("attn.proj.weight", "mlp.2.weight")):
                nn.init.normal_(p, std=0.02 / math.sqrt(2 * config.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear | nn.Embedding):
            nn.init.normal_(module.weight, std=0.02)

    def forward(
        self,
        tokens: Tensor,
        patterns: list[Tensor | None] | None = None,
        return_patterns: bool = False,
        positions: tuple[Tensor, Tensor] | None = None,
    ) -> tuple[Tensor, list[Tensor]]:
        """Logits (B, L, vocab) and, if asked, each layer's attention pattern (B, H, L, L).

        `patterns[l]`, when given, replaces layer l's attention pattern (explicit path).
        `positions` (rows, columns) restricts the logits to those positions, (N, vocab):
        evaluation scores a few positions per sequence and skips the rest of the head.
        """
        x = self._embed(tokens)
        collected = []
        for layer, block in enumerate(self.blocks):
            given = patterns[layer] if patterns is not None else None
            x, pattern = block(x, given, return_patterns)
            if return_patterns:
                collected.append(pattern)
        if positions is not None:
            x = x[positions]
        return self.head(self.ln_f(x)), collected

    def attention_patterns(self, tokens: Tensor) -> list[Tensor]:
        """Each layer's attention pattern (B, H, L, L), as `forward(return_patterns=True)`
        gives them, without what no pattern depends on: the last layer's attention output
        and MLP, and the head. A patched twin reads only these from its reference."""
        x = self._embed(tokens)
        patterns = []
        for block in self.blocks[:-1]:
            x, pattern = block(x, return_pattern=True)
            patterns.append(pattern)
        last = self.blocks[-1]
        return [*patterns, last.attn.pattern(last.ln_attn(x))]

    def _embed(self, tokens: Tensor) -> Tensor:
        L = tokens.shape[1]
        if self.config.max_len < L:
            raise ValueError(f"sequence length {L} exceeds model.max_len={self.config.max_len}")
        return self.tok_emb(tokens) + self.pos_emb(torch.arange(L, device=tokens.device))

    def n_params(self, non_embedding: bool = True) -> int:
        n = sum(p.numel() for p in self.parameters())
        if non_embedding:
            n -= self.tok_emb.weight.numel() + self.pos_emb.weight.numel()
        return n

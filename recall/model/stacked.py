"""k GPTs of one architecture run as one batched computation, for training ensembles.

The members' weights are stacked along a leading member dimension (differentiably, so
each member's own parameters get its gradients): every projection is one batched matmul
for all members, and attention folds the members into the batch of one kernel. This is
`GPT.forward` written out for stacked weights; tests hold it equal to each member's own
forward. (`torch.func.vmap` over `GPT.forward` would need no second implementation, but
was slower on the CPU and gave NaN losses in our first GPU benchmark; `vmapped` keeps it
for comparison.)

Members' corpora differ by seed, so their vocabularies and sequence lengths may differ:
the stacked embeddings are padded with zero rows that no member's tokens index, longer
sequences are padded with the padding token (causal attention keeps it from earlier
positions), and each member's logits are cut to its own vocabulary. Padding therefore
changes neither a member's loss nor its gradients.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.func import functional_call, vmap

from recall.errors import ConfigError
from recall.model.gpt import GPT

PADDED = {"tok_emb.weight": "vocab_size", "pos_emb.weight": "max_len"}  # rows to pad to


class StackedGPT:
    """The forward pass of `members` (GPTs that differ at most in vocabulary and length)
    on a stacked batch of tokens (k, B, L) -> logits (k, B, L, largest vocabulary)."""

    def __init__(self, members: Sequence[GPT]) -> None:
        shapes = {(m.config.n_layer, m.config.n_head, m.config.d_model) for m in members}
        if len(shapes) != 1:
            raise ConfigError("ensemble members must share model.n_layer, n_head and d_model")
        self.members = list(members)
        first = members[0].config
        self.sizes = {key: max(getattr(m.config, key) for m in members) for key in PADDED.values()}
        with torch.device("meta"):  # the architecture only: weights come from the members
            self.template = GPT(replace(first, **self.sizes))
        self.names = [name for name, _ in self.template.named_parameters()]  # head is tied

    def parameters(self) -> dict[str, Tensor]:
        """Each parameter of the members stacked (differentiably) on a leading dimension."""
        stacked = {}
        for name in self.names:
            weights = [m.get_parameter(name) for m in self.members]
            if name in PADDED:
                rows = self.sizes[PADDED[name]]
                weights = [F.pad(w, (0, 0, 0, rows - w.shape[0])) for w in weights]
            stacked[name] = torch.stack(weights)
        return stacked

    def __call__(self, tokens: Tensor, patterns: list[Tensor] | None = None) -> Tensor:
        """Logits of every member on its own row of `tokens` (k, B, L); `patterns[l]`
        (k, B, H, L, L), when given, replaces layer l's attention (attention patching)."""
        w = self.parameters()
        k, B, L = tokens.shape
        members = torch.arange(k, device=tokens.device)[:, None, None]
        x = w["tok_emb.weight"][members, tokens] + w["pos_emb.weight"][:, None, :L]
        for layer in range(self.template.config.n_layer):
            p = f"blocks.{layer}."
            h = _layer_norm(x, w[p + "ln_attn.weight"], w[p + "ln_attn.bias"])
            given = None if patterns is None else patterns[layer].flatten(0, 1)
            x = x + _linear(
                self._attention(_linear(h, w[p + "attn.qkv.weight"]), given),
                w[p + "attn.proj.weight"],
            )
            h = _layer_norm(x, w[p + "ln_mlp.weight"], w[p + "ln_mlp.bias"])
            x = x + _linear(F.gelu(_linear(h, w[p + "mlp.0.weight"])), w[p + "mlp.2.weight"])
        x = _layer_norm(x, w["ln_f.weight"], w["ln_f.bias"])
        return _linear(x, w["tok_emb.weight"])  # the tied head

    def _attention(self, qkv: Tensor, pattern: Tensor | None) -> Tensor:
        """Causal self-attention of (k, B, L, 3D) projections, the members' batches as one."""
        k, B, L, D3 = qkv.shape
        H = self.template.config.n_head
        q, key, v = (
            t.reshape(k * B, L, H, D3 // (3 * H)).transpose(1, 2) for t in qkv.split(D3 // 3, -1)
        )
        if pattern is None:
            y = F.scaled_dot_product_attention(q, key, v, is_causal=True)
        else:
            y = pattern @ v
        return y.transpose(1, 2).reshape(k, B, L, D3 // 3)

    def vmapped(self, tokens: Tensor) -> Tensor:
        """The same logits through torch.func.vmap over GPT.forward (benchmarks compare)."""

        def member(weights: dict[str, Tensor], x: Tensor) -> Tensor:
            return functional_call(self.template, weights, (x,))[0]

        return vmap(member)(self.parameters(), tokens)


def _linear(x: Tensor, weight: Tensor) -> Tensor:
    """x (k, B, L, D) times each member's weight (k, O, D) transposed: (k, B, L, O)."""
    k, B, L, D = x.shape
    return torch.bmm(x.reshape(k, B * L, D), weight.transpose(1, 2)).view(k, B, L, -1)


def _layer_norm(x: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    return F.layer_norm(x, x.shape[-1:]) * weight[:, None, None] + bias[:, None, None]


def stack_padded(rows: Sequence[Tensor], length: int | None = None) -> Tensor:
    """Stack (B, L_i) tensors into (k, B, L), padding the last dimension with zeros."""
    length = length or max(r.shape[-1] for r in rows)
    return torch.stack([F.pad(r, (0, length - r.shape[-1])) for r in rows])

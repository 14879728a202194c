"""Training FLOPs of the GPT counted from its shapes, for throughput and MFU.

Counted by hand rather than by a profiler so that every run can report them for free;
tests check the count against torch's FlopCounterMode.
"""

from __future__ import annotations

from recall.model.gpt import GPTConfig


def forward_flops(config: GPTConfig, batch: int, length: int) -> int:
    """Matmul FLOPs (2 per multiply-add) of one forward pass on a [batch, length] batch.

    Per position and layer: the QKV (3 d²) and output (d²) projections, the MLP (8 d²), and
    attention's two products QKᵀ and A·V (L·d each, counted in full as in PaLM's MFU
    although the causal half is masked); then the tied output head (V·d). Embedding
    lookups, LayerNorms, softmax and the loss are not matmuls and are left out.
    """
    d = config.d_model
    per_position = config.n_layer * (12 * d * d + 2 * length * d) + config.vocab_size * d
    return 2 * batch * length * per_position


def training_flops(config: GPTConfig, batch: int, length: int) -> int:
    """One training step: the backward pass costs two matmuls per forward matmul."""
    return 3 * forward_flops(config, batch, length)

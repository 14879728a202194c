"""The hand count of training FLOPs against torch's own FLOP counter."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from recall.flops import forward_flops, training_flops
from recall.model.gpt import GPT, GPTConfig

CONFIG = GPTConfig(vocab_size=97, max_len=24, n_layer=3, n_head=4, d_model=32)


def counted(batch: int, length: int, backward: bool) -> int:
    """FLOPs torch counts for the explicit-attention path (plain matmuls throughout)."""
    model = GPT(CONFIG)
    tokens = torch.randint(1, CONFIG.vocab_size, (batch, length))
    with FlopCounterMode(display=False) as counter:
        logits, _ = model(tokens, return_patterns=True)
        if backward:
            F.cross_entropy(logits.flatten(0, 1), tokens.flatten()).backward()
    return counter.get_total_flops()


def test_forward_count_matches_torch():
    assert forward_flops(CONFIG, 5, 17) == counted(5, 17, backward=False)


def test_training_count_matches_torch():
    assert training_flops(CONFIG, 3, 24) == counted(3, 24, backward=True)


def test_attention_grows_with_the_square_of_length():
    linear = forward_flops(CONFIG, 1, 10) / 10
    assert forward_flops(CONFIG, 1, 20) / 20 - linear == 2 * CONFIG.n_layer * 2 * 10 * 32

"""Dynamics callbacks on hand-made inputs with known answers."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from recall.callbacks.attention import AttentionCircuits, chance_levels, circuit_metrics
from recall.callbacks.phases import PhaseTracker
from recall.data.corpus import BiographyBatch
from recall.metrics import AttributeScores, attribute_scores
from recall.phases import PhaseConfig

CIRCUITS = ("name_to_name", "attr_to_name", "attr_to_text")


def hand_made_batch():
    """Two biographies of two sentences (B = begin, t = template word, N = name, V = value):
    B t N N N N t V N N N N t V V . .   names of 4 tokens, attribute 0 told first
    B N N N N N t t V t N N N N N t V   names of 5 tokens, attribute 1 told first"""
    B, t, N, V = 1, 3, 5, 7
    tokens = torch.tensor(
        [
            [B, t, N, N, N, N, t, V, N, N, N, N, t, V, V, 0, 0],
            [B, N, N, N, N, N, t, t, V, t, N, N, N, N, N, t, V],
        ]
    )
    value_spans = torch.tensor([[[7, 8], [13, 15]], [[16, 17], [8, 9]]])
    value_attr = torch.full_like(tokens, -1)
    for b, spans in enumerate(value_spans.tolist()):
        for a, (start, end) in enumerate(spans):
            value_attr[b, start:end] = a
    return BiographyBatch(
        tokens=tokens,
        value_attr=value_attr,
        value_spans=value_spans,
        name_spans=torch.tensor([[[2, 6], [8, 12]], [[10, 15], [1, 6]]]),
        individuals=torch.tensor([0, 1]),
    )


def uniform_patterns(batch, n_layer=1, n_head=1):
    """Causal-uniform attention: 1 / (q + 1) on each key 0..q."""
    B, L = batch.tokens.shape
    pattern = torch.ones(L, L).tril()
    pattern = pattern / pattern.sum(-1, keepdim=True)
    return [pattern.expand(B, n_head, L, L) for _ in range(n_layer)]


def planted_patterns(batch, n_layer=2, n_head=3):
    """Causal-uniform attention, except at the last name token (0.6 spread evenly over the
    other tokens of its name, 0.4 on itself) and at the position predicting a value (0.6
    on the first name token of its sentence, 0.3 on itself, 0.1 on the begin token)."""
    pattern = uniform_patterns(batch)[0][:, 0].clone()
    B, L = batch.tokens.shape
    for b in range(B):
        for (s, e), (v, _) in zip(
            batch.name_spans[b].tolist(), batch.value_spans[b].tolist(), strict=True
        ):
            pattern[b, e - 1] = 0
            pattern[b, e - 1, s : e - 1] = 0.6 / (e - 1 - s)
            pattern[b, e - 1, e - 1] = 0.4
            pattern[b, v - 1] = 0
            pattern[b, v - 1, s] = 0.6
            pattern[b, v - 1, v - 1] = 0.3
            pattern[b, v - 1, 0] = 0.1
    return [pattern[:, None].expand(B, n_head, L, L) for _ in range(n_layer)]


def random_patterns(batch, n_layer=2, n_head=3, seed=0):
    """Causal softmax attention over random scores: a different pattern per head."""
    B, L = batch.tokens.shape
    generator = torch.Generator().manual_seed(seed)
    scores = 3 * torch.randn(n_layer, B, n_head, L, L, generator=generator)
    scores = scores.masked_fill(~torch.ones(L, L, dtype=torch.bool).tril(), float("-inf"))
    return list(scores.softmax(-1))


def assert_planted(batch):
    metrics = circuit_metrics(planted_patterns(batch), batch)
    assert metrics["name_to_name"].shape == (2, 3)
    torch.testing.assert_close(metrics["name_to_name"], torch.full((2, 3), 0.6))
    torch.testing.assert_close(metrics["attr_to_name"], torch.full((2, 3), 0.6))
    torch.testing.assert_close(metrics["attr_to_text"], torch.full((2, 3), 0.3))


def assert_uniform_is_chance(batch):
    metrics = circuit_metrics(uniform_patterns(batch), batch)
    for name, chance in chance_levels(batch).items():
        assert metrics[name].item() == pytest.approx(chance, abs=1e-6)
    assert metrics["entropy"].item() == pytest.approx(1.0, abs=1e-6)


def test_circuit_metrics_recover_planted_attention_on_names_of_4_and_5_tokens():
    assert_planted(hand_made_batch())


def test_circuit_metrics_recover_planted_attention(corpus):
    assert_planted(corpus.evaluation_batch(np.arange(8), np.random.default_rng(0)))


def test_chance_levels_by_hand():
    # uniform causal attention from query q puts 1 / (q + 1) on each key 0..q
    chance = chance_levels(hand_made_batch())
    # last name token q = end - 1 -> the end - 1 - start other tokens of its name
    assert chance["name_to_name"] == pytest.approx((3 / 6 + 3 / 12 + 4 / 15 + 4 / 6) / 4)
    # value-predicting q = value start - 1 -> every name token so far, and the rest but B
    assert chance["attr_to_name"] == pytest.approx((4 / 7 + 8 / 13 + 10 / 16 + 5 / 8) / 4)
    assert chance["attr_to_text"] == pytest.approx((2 / 7 + 4 / 13 + 5 / 16 + 2 / 8) / 4)


def test_uniform_attention_is_at_chance_with_entropy_one():
    assert_uniform_is_chance(hand_made_batch())


def test_uniform_attention_is_at_chance_on_the_corpus(corpus):
    assert_uniform_is_chance(corpus.evaluation_batch(np.arange(4), np.random.default_rng(1)))


def test_attention_callback_logs_mean_best_and_chance_per_layer():
    batch = hand_made_batch()
    patterns = random_patterns(batch)
    trainer = SimpleNamespace(datamodule=SimpleNamespace(eval_batches={"seen": batch}), loggers=[])
    module = SimpleNamespace(global_step=0, attention_patterns=lambda _: patterns)
    logged = AttentionCircuits(n_biographies=2).on_evaluation(trainer, module, {})
    values, chance = circuit_metrics(patterns, batch), chance_levels(batch)
    for layer in (0, 1):
        for name in CIRCUITS:
            key = f"attn/{name}/layer{layer}"
            heads = [logged[f"{key}/head{h}"] for h in range(3)]
            assert logged[key] == pytest.approx(np.mean(heads))
            assert logged[f"{key}/best"] == max(heads) >= logged[key]
            assert logged[f"{key}/chance"] == chance[name]
            assert logged[f"{key}/best"] == pytest.approx(values[name][layer].max().item())
        assert f"attn/entropy/layer{layer}" in logged
        assert f"attn/entropy/layer{layer}/best" not in logged
        assert f"attn/entropy/layer{layer}/chance" not in logged
    assert len(logged) == 2 * (3 * (1 + 2 + 3) + (1 + 3))  # layers x (circuits + entropy)


def test_confidence_and_entropy_of_a_known_prediction():
    # one two-token value; first token predicted with p = 0.5 (two-way tie), second sure
    tokens = torch.tensor([[1, 2, 3]])
    value_attr = torch.tensor([[-1, 0, 0]])
    logits = torch.full((1, 3, 4), -1e4)
    logits[0, 0, 2] = logits[0, 0, 3] = 0.0
    logits[0, 1, 3] = 0.0
    scores = attribute_scores(logits, tokens, value_attr, n_attr=1)
    assert scores.confidence.item() == pytest.approx(0.5)
    assert scores.entropy.item() == pytest.approx(np.log(2) / 2)


def fake_run(step):
    module = SimpleNamespace(global_step=step, baseline=5.0)
    return SimpleNamespace(loggers=[]), module


def track(tracker, steps, losses):
    phases = []
    for step, loss in zip(steps, losses, strict=True):
        scores = {"seen": AttributeScores(*(torch.tensor([[float(loss)]]),) * 4)}
        phases.append(tracker.on_evaluation(*fake_run(step), scores)["phase"])
    return phases


def test_phase_tracker_follows_the_phases_live_and_survives_resume():
    steps = list(range(0, 1000, 100))
    losses = [13, 8, 5.1, 5.0, 5.05, 4.0, 3.0, 2.0, 1.0, 0.5]
    tracker = PhaseTracker(PhaseConfig(patience=2))
    assert track(tracker, steps, losses) == [0, 0, 1, 1, 1, 1, 2, 2, 2, 2]
    assert tracker.marked == {"plateau": 200, "knowledge": 500}
    resumed = PhaseTracker(PhaseConfig(patience=2))
    resumed.load_state_dict(
        tracker.state_dict() | {"steps": steps[:5], "losses": losses[:5], "accs": tracker.accs[:5]}
    )
    assert track(resumed, steps[5:], losses[5:]) == [1, 2, 2, 2, 2]

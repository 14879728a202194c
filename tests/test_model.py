import pytest
import torch

from recall.errors import ConfigError
from recall.model.gpt import GPT, GPTConfig


@pytest.fixture
def model():
    """A model with large random weights, so that attention patterns are far from uniform."""
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=50, max_len=24, n_layer=3, n_head=4, d_model=32)).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.3)
    return model


def test_logits_at_every_position(model):
    logits, patterns = model(torch.randint(0, 50, (2, 24)))
    assert logits.shape == (2, 24, 50)
    assert patterns == []


def test_logits_at_chosen_positions_are_those_of_the_full_pass(model):
    tokens = torch.randint(1, 50, (3, 12))
    rows, cols = torch.tensor([0, 0, 2, 1]), torch.tensor([3, 11, 0, 5])
    full, _ = model(tokens)
    chosen, _ = model(tokens, positions=(rows, cols))
    assert chosen.shape == (4, full.shape[-1])
    torch.testing.assert_close(chosen, full[rows, cols])


def test_causal_future_tokens_do_not_change_the_past(model):
    tokens = torch.randint(0, 50, (2, 24))
    changed = tokens.clone()
    changed[:, 15:] = (changed[:, 15:] + 7) % 50
    a, _ = model(tokens)
    b, _ = model(changed)
    torch.testing.assert_close(a[:, :15], b[:, :15])
    assert not torch.allclose(a[:, 15:], b[:, 15:])


def test_fast_and_explicit_attention_paths_agree(model):
    tokens = torch.randint(0, 50, (3, 24))
    fast, _ = model(tokens)
    explicit, patterns = model(tokens, return_patterns=True)
    torch.testing.assert_close(fast, explicit, atol=1e-5, rtol=1e-4)
    assert len(patterns) == 3 and patterns[0].shape == (3, 4, 24, 24)
    for p in patterns:
        torch.testing.assert_close(p.sum(-1), torch.ones(3, 4, 24))
        assert (p.triu(diagonal=1) == 0).all()


def test_patterns_alone_are_those_of_the_full_pass(model):
    tokens = torch.randint(0, 50, (3, 24))
    _, full = model(tokens, return_patterns=True)
    alone = model.attention_patterns(tokens)
    assert len(alone) == len(full) == 3
    for a, f in zip(alone, full, strict=True):
        torch.testing.assert_close(a, f, rtol=0, atol=0)


def test_injected_patterns_replace_attention(model):
    tokens = torch.randint(0, 50, (2, 24))
    reference, own = model(tokens, return_patterns=True)
    replayed, _ = model(tokens, patterns=own)
    torch.testing.assert_close(replayed, reference)
    uniform = [torch.ones(24, 24).tril() / torch.arange(1, 25)[:, None] for _ in own]
    changed, _ = model(tokens, patterns=[u.expand(2, 4, 24, 24) for u in uniform])
    assert (changed - reference).abs().max() > 0.1


def test_bad_shapes_raise():
    with pytest.raises(ConfigError, match="divisible"):
        GPTConfig(vocab_size=10, max_len=8, n_head=3, d_model=32)
    model = GPT(GPTConfig(vocab_size=10, max_len=8, n_layer=1, n_head=1, d_model=8))
    with pytest.raises(ValueError, match="exceeds model.max_len"):
        model(torch.zeros(1, 9, dtype=torch.long))


def test_learning_rate_schedule_warms_up_then_decays_to_its_floor():
    from recall.model.module import OptimConfig

    cosine = OptimConfig(warmup_steps=10, min_lr_ratio=0.1)
    assert cosine.lr_factor(0, 1000) == pytest.approx(0.1)  # 1 / 10 of the way up
    assert cosine.lr_factor(500, 1000) == pytest.approx(0.55)  # half-way down the cosine
    assert cosine.lr_factor(1000, 1000) == pytest.approx(0.1)
    stable = OptimConfig(warmup_steps=10, min_lr_ratio=0.1, decay_steps=200)
    assert stable.lr_factor(799, 1000) == stable.lr_factor(10, 1000) == 1.0  # constant ...
    assert stable.lr_factor(900, 1000) == pytest.approx(0.55)  # ... then the same cosine
    assert stable.lr_factor(1000, 1000) == pytest.approx(0.1)
    with pytest.raises(ConfigError, match="decay_steps"):
        OptimConfig(decay_steps=0)

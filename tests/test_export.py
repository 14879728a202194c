"""recall-export: a run's checkpoint as a `transformers` GPT-2 folder that computes exactly
what recall's model does (the equivalence test needs the `interop` extra: slow suite)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from recall.export import export_run, main, step_checkpoints
from recall.model.module import checkpoint_model
from recall.runs import regenerate_corpus

TOLERANCE = 1e-5  # float32 on the CPU: the two compute the same function, up to rounding


def test_export_writes_a_gpt2_folder_of_the_last_checkpoint(pretrained, tmp_path):
    out = export_run(pretrained, out=tmp_path / "gpt")
    assert sorted(p.name for p in out.iterdir()) == [
        "README.md",
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
    ]
    last = max(step_checkpoints(pretrained))
    ours = checkpoint_model(pretrained.checkpoints / f"step{last:06d}.ckpt")
    config = json.loads((out / "config.json").read_text())
    assert config["architectures"] == ["GPT2LMHeadModel"]
    assert config["activation_function"] == "gelu"  # exact, as nn.GELU(); not gelu_new
    assert (config["n_layer"], config["n_head"], config["n_embd"]) == (2, 2, 64)
    assert config["vocab_size"] == ours.config.vocab_size
    assert config["n_positions"] == ours.config.max_len
    weights = load_file(out / "model.safetensors")
    assert "lm_head.weight" not in weights  # tied to wte
    assert torch.equal(weights["transformer.wte.weight"], ours.tok_emb.weight.detach())
    qkv = ours.blocks[1].attn.qkv.weight.detach()
    assert torch.equal(weights["transformer.h.1.attn.c_attn.weight"], qkv.t())
    biases = [w for name, w in weights.items() if name.endswith("bias") and ".ln_" not in name]
    assert len(biases) == 4 * 2 and all(not b.any() for b in biases)
    readme = (out / "README.md").read_text()
    assert f"step {last}" in readme and "Corpus seed 0" in readme
    assert (out / "tokenizer.json").read_bytes() == pretrained.tokenizer.read_bytes()


@pytest.mark.parametrize(
    "case", ["not a run", "missing step", "out not empty"], ids=lambda c: c.replace(" ", "_")
)
def test_cli_answers_bad_input_with_one_line_and_status_2(pretrained, tmp_path, capsys, case):
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "file").touch()
    argv = {
        "not a run": [str(tmp_path)],
        "missing step": [str(pretrained.path), "--step", "150", "--out", str(tmp_path / "gpt")],
        "out not empty": [str(pretrained.path), "--out", str(taken)],
    }[case]
    before = sorted(tmp_path.rglob("*"))
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("recall-export: error: ") and err.count("\n") == 1, err
    assert sorted(tmp_path.rglob("*")) == before  # nothing written, no staging folder left
    assert not (pretrained.path / "export").exists()


def test_cli_names_the_steps_a_run_has(pretrained, tmp_path, capsys):
    with pytest.raises(SystemExit):
        main([str(pretrained.path), "--step", "7", "--out", str(tmp_path / "gpt")])
    assert "has no checkpoint at step 7; it has steps 0, 100, " in capsys.readouterr().err


@pytest.mark.slow
def test_exported_model_equals_recall_on_heldout_biographies(pretrained, tmp_path, monkeypatch):
    """Logits and every layer's attention pattern within 1e-5, float32 on the CPU; the
    tokenizer gives the batches' ids. Loaded offline, as a user without the hub would."""
    transformers = pytest.importorskip(
        "transformers", reason="the optional `interop` extra (transformers) is not installed"
    )
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    step = 200  # a checkpoint mid-training: trained, not the one the default picks
    out = export_run(pretrained, step=step, out=tmp_path / "gpt")
    theirs = transformers.AutoModelForCausalLM.from_pretrained(out, attn_implementation="eager")
    tokenizer = transformers.AutoTokenizer.from_pretrained(out)
    ours = checkpoint_model(pretrained.checkpoints / f"step{step:06d}.ckpt").eval()

    corpus, _ = regenerate_corpus(pretrained)
    individuals = np.arange(corpus.population.n_seen)
    choices = corpus.choose(individuals, np.random.default_rng(7), heldout=True)
    batch = corpus.build(individuals, *choices)  # held-out templates, right-padded with 0
    with torch.no_grad():
        logits, patterns = ours(batch.tokens, return_patterns=True)
        exported = theirs.eval()(batch.tokens, output_attentions=True)
    real = batch.tokens > 0  # padding after a biography is not part of it
    logits_diff = (logits - exported.logits)[real].abs().max().item()
    pattern_diffs = [
        (p - q).abs().amax((1, 3))[real].max().item()
        for p, q in zip(patterns, exported.attentions, strict=True)
    ]
    print(f"max abs difference: logits {logits_diff:.2e}, patterns {max(pattern_diffs):.2e}")
    assert len(pattern_diffs) == ours.config.n_layer
    assert logits_diff < TOLERANCE and max(pattern_diffs) < TOLERANCE

    texts = [corpus.text(int(i), t, o).text for i, t, o in zip(individuals, *choices, strict=True)]
    encoded = tokenizer(texts)["input_ids"]
    assert [ids for ids in encoded] == [row[row > 0].tolist() for row in batch.tokens]
    assert tokenizer.decode(encoded[0], skip_special_tokens=True) == texts[0]

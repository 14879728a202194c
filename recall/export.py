"""`recall-export`: one checkpoint of a run as a Hugging Face `transformers` model folder.

recall-export runs/default/<time>                       # the last checkpoint
recall-export runs/default/<time> --step 400 --out gpt  # step 400, into ./gpt

Our decoder is the GPT-2 layout (pre-LayerNorm, learned positions, exact-GELU MLP, tied
embeddings), so it maps onto `GPT2LMHeadModel` without approximation: the linear layers
that have no bias here get zero biases there. The folder holds config.json,
model.safetensors, the run's tokenizer.json with a tokenizer_config.json, and a README;
`AutoModelForCausalLM.from_pretrained` and `AutoTokenizer.from_pretrained` load it
offline. Writing it needs only torch and safetensors, not `transformers`.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from recall.cli import ArgumentParser, reported
from recall.errors import ConfigError
from recall.model.gpt import GPT, GPTConfig
from recall.model.module import checkpoint_model
from recall.runs import RunFolder, folder_written_atomically

STEP_CHECKPOINT = re.compile(r"step(\d{6})\.ckpt")
LAYER_NORM_EPS = 1e-5  # torch.nn.LayerNorm's default, which recall/model/gpt.py uses


def gpt2_config(config: GPTConfig, bos_id: int, pad_id: int) -> dict:
    """config.json of the GPT-2 model that computes exactly what `config`'s GPT does."""
    return {
        "architectures": ["GPT2LMHeadModel"],
        "model_type": "gpt2",
        "vocab_size": config.vocab_size,
        "n_positions": config.max_len,
        "n_embd": config.d_model,
        "n_layer": config.n_layer,
        "n_head": config.n_head,
        "n_inner": 4 * config.d_model,
        "activation_function": "gelu",  # exact erf GELU (nn.GELU()), not GPT-2's tanh gelu_new
        "layer_norm_epsilon": LAYER_NORM_EPS,
        "resid_pdrop": 0.0,  # recall trains without dropout
        "embd_pdrop": 0.0,
        "attn_pdrop": 0.0,
        "scale_attn_weights": True,  # scores / sqrt(head dim)
        "scale_attn_by_inverse_layer_idx": False,
        "reorder_and_upcast_attn": False,
        "tie_word_embeddings": True,
        "initializer_range": 0.02,
        "bos_token_id": bos_id,
        "eos_token_id": None,  # biographies end in padding, not an end token
        "pad_token_id": pad_id,
        "dtype": "float32",
        "use_cache": True,
    }


def gpt2_state_dict(model: GPT) -> dict[str, torch.Tensor]:
    """`GPT2LMHeadModel`'s weights from ours. Its Conv1D layers store [in, out], the
    transpose of nn.Linear; lm_head is tied to wte, so it is not stored (as save_pretrained
    does)."""
    state = model.state_dict()
    out = {
        "transformer.wte.weight": state["tok_emb.weight"],
        "transformer.wpe.weight": state["pos_emb.weight"],
        "transformer.ln_f.weight": state["ln_f.weight"],
        "transformer.ln_f.bias": state["ln_f.bias"],
    }
    for layer in range(model.config.n_layer):
        ours, theirs = f"blocks.{layer}.", f"transformer.h.{layer}."
        for norm, name in (("ln_attn", "ln_1"), ("ln_mlp", "ln_2")):
            out[f"{theirs}{name}.weight"] = state[f"{ours}{norm}.weight"]
            out[f"{theirs}{name}.bias"] = state[f"{ours}{norm}.bias"]
        for linear, name in (
            ("attn.qkv", "attn.c_attn"),  # q, k, v along the output dim: the same split
            ("attn.proj", "attn.c_proj"),
            ("mlp.0", "mlp.c_fc"),
            ("mlp.2", "mlp.c_proj"),
        ):
            weight = state[f"{ours}{linear}.weight"]
            out[f"{theirs}{name}.weight"] = weight.t()
            out[f"{theirs}{name}.bias"] = torch.zeros(weight.shape[0], dtype=weight.dtype)
    return {name: tensor.detach().float().contiguous() for name, tensor in out.items()}


def step_checkpoints(run: RunFolder) -> dict[int, Path]:
    """The run's weight checkpoints (stepNNNNNN.ckpt) by step."""
    if not run.config.is_file() or not run.tokenizer.is_file():
        raise ConfigError(
            f"{run.path} is not a run folder (needs config.yaml and tokenizer.json); "
            "give a folder that recall-train or recall-finetune wrote"
        )
    found = {
        int(m.group(1)): p
        for p in run.checkpoints.glob("step*.ckpt")
        if (m := STEP_CHECKPOINT.fullmatch(p.name))
    }
    if not found:
        raise ConfigError(f"{run.path} has no step checkpoints in {run.checkpoints}")
    return dict(sorted(found.items()))


def choose_checkpoint(run: RunFolder, step: int | None) -> tuple[int, Path]:
    """The checkpoint of `step`, or the last one when `step` is None."""
    found = step_checkpoints(run)
    if step is None:
        step = max(found)
    if step not in found:
        steps = list(found)
        shown = ", ".join(map(str, steps if len(steps) <= 6 else [*steps[:2], "...", steps[-1]]))
        raise ConfigError(f"{run.path} has no checkpoint at step {step}; it has steps {shown}")
    return step, found[step]


def tokenizer_config(max_len: int) -> dict:
    """tokenizer_config.json: the fast tokenizer over tokenizer.json, whose post-processor
    puts <bos> in front of every text as recall's batches do."""
    return {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": "<bos>",
        "pad_token": "<pad>",
        "unk_token": "<unk>",
        "model_max_length": max_len,
        "padding_side": "right",
        "clean_up_tokenization_spaces": False,
    }


def readme(run: RunFolder, step: int, config: GPTConfig, corpus: dict, out: Path) -> str:
    """What the folder is and how to load it."""
    return f"""# recall run {run.path.parent.name}/{run.path.name}, step {step}

Exported by `recall-export` from the run folder `{run.path}`, checkpoint
`checkpoints/step{step:06d}.ckpt`. Corpus seed {corpus.get("seed")}, fingerprint
`{corpus.get("fingerprint")}`: the run's config.yaml regenerates its biographies
(`recall.runs.regenerate_corpus`).

A GPT-2 layout decoder ({config.n_layer} layers, d_model {config.d_model}, \
{config.n_head} heads, vocabulary {config.vocab_size}, context {config.max_len}): exact GELU,
tied embeddings, zero biases where recall's linear layers have none. Its logits and
attention patterns are recall's (float32, to rounding).

```python
from transformers import AutoModelForCausalLM, AutoTokenizer

folder = "{out}"
model = AutoModelForCausalLM.from_pretrained(folder, attn_implementation="eager")
tokenizer = AutoTokenizer.from_pretrained(folder)  # puts <bos> first, as recall does
ids = tokenizer("...", return_tensors="pt").input_ids
out = model(ids, output_attentions=True)  # out.attentions: per layer [B, H, L, L]
```

`attn_implementation="eager"` is what returns attention patterns. TransformerLens:
`TransformerBridge.boot_transformers(folder, hf_model=model, tokenizer=tokenizer)`.
Not carried over: recall's attention patching and its training callbacks (circuit
metrics, phases, hallucination); use recall for those.
"""


def export_run(run: RunFolder, step: int | None = None, out: Path | None = None) -> Path:
    """Write the `transformers` folder of one checkpoint (default: the last) and return it.

    Written into a temporary folder beside `out` and renamed into place when complete, so a
    failed export leaves nothing; default `out`: <run>/export/stepNNNNNN.
    """
    step, path = choose_checkpoint(run, step)
    out = (out or run.path / "export" / f"step{step:06d}").expanduser().absolute()
    model = checkpoint_model(path)
    corpus = run.read_json(run.corpus) if run.corpus.is_file() else {}
    tokenizer = read_tokenizer(run)
    with folder_written_atomically(out, "--out") as staging:
        write_folder(staging, run, step, model, corpus, tokenizer, out)
    return out


def read_tokenizer(run: RunFolder) -> dict[str, Any]:
    """The run's tokenizer.json; a missing or damaged one is a one-line ConfigError."""
    try:
        return json.loads(run.tokenizer.read_text())
    except (OSError, ValueError) as err:
        reason = getattr(err, "strerror", None) or str(err).splitlines()[0]
        raise ConfigError(
            f"cannot read {run.tokenizer} ({reason}); it is written with the run, so restore "
            "the run folder from a copy, or train it again"
        ) from None


def write_folder(
    folder: Path,
    run: RunFolder,
    step: int,
    model: GPT,
    corpus: dict,
    tokenizer: dict[str, Any],
    out: Path,
) -> None:
    """The folder's files; `out` is where it will be once complete."""
    config = model.config
    ids = {token["content"]: token["id"] for token in tokenizer.get("added_tokens", [])}
    _dump(folder / "config.json", gpt2_config(config, ids.get("<bos>", 1), ids.get("<pad>", 0)))
    save_file(gpt2_state_dict(model), str(folder / "model.safetensors"), {"format": "pt"})
    (folder / "model.safetensors").chmod(0o644)  # safetensors writes it owner-only
    shutil.copyfile(run.tokenizer, folder / "tokenizer.json")
    _dump(folder / "tokenizer_config.json", tokenizer_config(config.max_len))
    (folder / "README.md").write_text(readme(run, step, config, corpus, out))


def _dump(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n")


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point."""
    parser = ArgumentParser(
        prog="recall-export",
        description="Write one checkpoint of a run as a Hugging Face transformers model folder.",
    )
    parser.add_argument("run", type=Path, help="a run folder (recall-train or recall-finetune)")
    parser.add_argument("--step", type=int, help="the checkpoint's step (default: the last)")
    parser.add_argument("--out", type=Path, help="folder to write (default <run>/export/stepN)")
    args = parser.parse_args(argv)
    with reported("recall-export"):
        out = export_run(RunFolder(args.run.expanduser().absolute()), args.step, args.out)
    print(f"recall-export: wrote {out}")

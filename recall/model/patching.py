"""Attention patching: a twin model trained with a reference checkpoint's attention patterns.

From `start_step` on, each batch (training and evaluation) first goes through the frozen
reference model; the twin then uses the reference's attention patterns, layer by layer,
in place of its own (explicit attention path). The patterns carry no gradient, so the
twin's queries and keys stop learning and everything else learns as usual. Config:

    patching.run=<run folder> patching.step=<one of its checkpoint steps>
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from recall.checkpoints import weights_file
from recall.errors import ConfigError
from recall.model.gpt import GPT, GPTConfig
from recall.model.module import checkpoint_model
from recall.runs import RunFolder


@dataclass(frozen=True)
class PatchingConfig:
    run: str | None = None  # the reference run folder
    step: int | None = None  # its checkpoint at this step; null: no patching (the control)
    start_step: int = 0  # the twin uses the reference patterns from this step on

    def __post_init__(self) -> None:
        if self.step is not None and self.run is None:
            raise ConfigError("patching.step needs patching.run=<the reference run folder>")
        if self.start_step < 0:
            raise ConfigError(f"patching.start_step={self.start_step} must be zero or positive")

    @property
    def enabled(self) -> bool:
        return self.step is not None


class ReferencePatterns:
    """Callable giving the reference's patterns for a batch, or None before `start_step`."""

    def __init__(self, model: GPT, start_step: int = 0) -> None:
        self.model = model.eval().requires_grad_(False)
        self.start_step = start_step

    def __call__(self, tokens: Tensor, step: int) -> list[Tensor] | None:
        if step < self.start_step:
            return None
        if next(self.model.parameters()).device != tokens.device:
            self.model.to(tokens.device)
        with torch.no_grad():
            return self.model.attention_patterns(tokens)


def load_reference(config: PatchingConfig, fingerprint: str, model: GPTConfig) -> GPT:
    """The reference checkpoint's model, checked to share the twin's corpus and shape."""
    run = RunFolder(Path(config.run).expanduser())
    if not run.corpus.is_file():
        raise ConfigError(f"patching.run={config.run} is not a run folder (no corpus.json)")
    if run.read_json(run.corpus)["fingerprint"] != fingerprint:
        raise ConfigError(
            f"patching.run={config.run} was trained on another corpus; the twin must use the "
            "reference run's seed and data config"
        )
    path = weights_file(run.checkpoints, config.step)
    if not path.is_file():
        steps = sorted(int(p.stem[4:]) for p in run.checkpoints.glob("step*.ckpt"))
        raise ConfigError(
            f"patching.step={config.step}: {config.run} has no checkpoint at that step "
            f"(it has {', '.join(map(str, steps)) or 'none'})"
        )
    reference = checkpoint_model(path)
    if reference.config != model:
        raise ConfigError(
            f"patching.run={config.run} has another model shape ({reference.config}); the "
            "twin must use the reference run's model config"
        )
    return reference

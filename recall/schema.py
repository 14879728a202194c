"""The config schema: the type of every key of train.yaml, finetune.yaml and generate.yaml.

Registered in Hydra's ConfigStore and named first in each top-level YAML's defaults list,
so that composing a config (from the command line, a notebook or a test) rejects an
unknown key or a value of the wrong type before recall sees it. The YAML files hold the
defaults users read; here every value is MISSING, so the defaults live in one place.
Ranges and rules across keys are checked once, when `recall.settings.validate` builds the
run's dataclasses. Where a node's keys depend on a name (`data.distribution`, `schedule`)
or are another library's (`trainer`: lightning.Trainer's arguments), the node is an open
dict, checked by the code that reads it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, is_dataclass
from typing import Any, get_type_hints

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig


@dataclass
class DataSchema:
    distribution: dict[str, Any] = MISSING
    n_individuals: int = MISSING
    n_unseen: int = MISSING
    first_names: int = MISSING
    middle_names: int = MISSING
    last_names: int = MISSING
    attributes: dict[str, int] = MISSING
    templates: int = MISSING
    heldout_templates: int = MISSING
    frequency_buckets: list[float] = MISSING
    batch_size: int = MISSING
    n_eval: int = MISSING
    num_workers: int = MISSING


@dataclass
class ModelSchema:
    n_layer: int = MISSING
    n_head: int = MISSING
    d_model: int = MISSING


@dataclass
class OptimSchema:
    lr: float = MISSING
    warmup_steps: int = MISSING
    min_lr_ratio: float = MISSING
    decay_steps: int | None = MISSING
    weight_decay: float = MISSING
    betas: list[float] = MISSING


@dataclass
class FinetuneOptimSchema(OptimSchema):
    lr: float | None = MISSING  # null: a ratio of the starting run's peak


@dataclass
class EvalSchema:
    every: int = MISSING
    spacing: str = MISSING
    n_points: int = MISSING
    dense_until: int = MISSING


@dataclass
class PhasesSchema:
    statistics_tolerance: float = MISSING
    knowledge_margin: float = MISSING
    patience: int = MISSING


@dataclass
class PatchingSchema:
    run: str | None = MISSING
    step: int | None = MISSING
    start_step: int = MISSING


@dataclass
class CheckpointSchema:
    every_n_steps: int = MISSING


@dataclass
class AttentionSchema:
    enabled: bool = MISSING
    n_biographies: int = MISSING
    figure_every: int = MISSING


@dataclass
class HallucinationSchema:
    enabled: bool = MISSING
    threshold: float = MISSING


@dataclass
class CallbacksSchema:
    phases: bool = MISSING
    attention: AttentionSchema = field(default_factory=AttentionSchema)
    hallucination: HallucinationSchema = field(default_factory=HallucinationSchema)


@dataclass
class TrainSchema:
    name: str = MISSING
    seed: int = MISSING
    seeds: list[int] | None = MISSING
    members: list[Any] | None = MISSING
    run_dir: str = MISSING
    ckpt_path: str | None = MISSING
    stop_at_acc: float | None = MISSING
    stop_at_onset: bool = MISSING
    threads: int | None = MISSING
    compile: Any = MISSING  # false, true or a torch.compile mode name
    optim: OptimSchema = field(default_factory=OptimSchema)
    eval: EvalSchema = field(default_factory=EvalSchema)
    eval_batch_size: int = MISSING
    phases: PhasesSchema = field(default_factory=PhasesSchema)
    patching: PatchingSchema = field(default_factory=PatchingSchema)
    checkpoint: CheckpointSchema = field(default_factory=CheckpointSchema)
    progress_refresh: int = MISSING
    data: DataSchema = field(default_factory=DataSchema)
    schedule: dict[str, Any] = MISSING
    model: ModelSchema = field(default_factory=ModelSchema)
    trainer: dict[str, Any] = MISSING
    callbacks: CallbacksSchema = field(default_factory=CallbacksSchema)


@dataclass
class FinetuneSchema:
    name: str = MISSING
    start: str = MISSING
    seed: int = MISSING
    run_dir: str = MISSING
    threads: int | None = MISSING
    new_individuals: int | None = MISSING
    new_fraction: float = MISSING
    lr_ratio: float = MISSING
    control: bool = MISSING
    replay: float = MISSING
    batch_size: int | None = MISSING
    n_eval: int = MISSING
    drift_biographies: int = MISSING
    optim: FinetuneOptimSchema = field(default_factory=FinetuneOptimSchema)
    eval: EvalSchema = field(default_factory=EvalSchema)
    eval_batch_size: int = MISSING
    checkpoint: CheckpointSchema = field(default_factory=CheckpointSchema)
    progress_refresh: int = MISSING
    trainer: dict[str, Any] = MISSING


@dataclass
class GenerateSchema:
    out: str = MISSING
    seed: int = MISSING
    n_biographies: int = MISSING
    data: DataSchema = field(default_factory=DataSchema)
    schedule: dict[str, Any] = MISSING


SCHEMAS = {"train": TrainSchema, "finetune": FinetuneSchema, "generate": GenerateSchema}


def register() -> None:
    """Store each top-level schema as `<config>_schema`, the first entry of its YAML's
    defaults list (idempotent: the ConfigStore keeps the last of equal names)."""
    store = ConfigStore.instance()
    for name, schema in SCHEMAS.items():
        store.store(name=f"{name}_schema", node=schema)


def unknown_key(cfg: DictConfig, schema: type, path: str = "") -> str | None:
    """The first key of `cfg` that `schema` does not have, as a dotted path (None: none).

    Composing rejects unknown keys except those forced in with `+`, which Hydra adds even to
    a structured config; open nodes (dict[str, Any]) are checked by the code that reads them.
    """
    types = get_type_hints(schema)
    for key in cfg:
        if key not in types:
            return f"{path}{key}"
        if is_dataclass(types[key]) and isinstance(cfg[key], DictConfig):
            found = unknown_key(cfg[key], types[key], f"{path}{key}.")
            if found:
                return found
    return None

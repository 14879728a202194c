"""Turning Hydra config sections into validated dataclasses, with one-line errors."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from recall.errors import ConfigError

CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs"
"""The Hydra configs (the repository's configs/, found through the editable install)."""


def to_dataclasses(node: DictConfig, path: str, *classes: type, **extra: Any) -> list[Any]:
    """Split one flat config section over `classes` by field name.

    A key no class knows is an error naming it and the known keys; `extra` values go to
    every class that has such a field (e.g. the run seed).
    """
    values = OmegaConf.to_container(node, resolve=True)
    known = [f.name for cls in classes for f in dataclasses.fields(cls) if f.name not in extra]
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ConfigError(f"unknown key {path}.{unknown[0]} (known: {', '.join(known)})")
    built = []
    for cls in classes:
        names = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in {**values, **extra}.items() if k in names}
        built.append(cls(**kwargs))
    return built

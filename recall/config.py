"""Turning Hydra config sections into validated dataclasses, with one-line errors."""

from __future__ import annotations

import dataclasses
import inspect
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from hydra import compose as hydra_compose
from hydra import initialize_config_dir
from omegaconf import DictConfig, OmegaConf

from recall.errors import ConfigError

CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs"
"""The Hydra configs (the repository's configs/, found through the editable install)."""


def compose(name: str, overrides: Sequence[str] = ()) -> DictConfig:
    """One of the top-level configs (train, finetune) with command-line style overrides,
    as its console script would see it: for notebooks, tests and the reproduction."""
    with initialize_config_dir(version_base="1.3", config_dir=str(CONFIG_DIR)):
        return hydra_compose(name, overrides=list(overrides))


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
        for key, hint in typing.get_type_hints(cls).items():
            if key in values and not matches(values[key], hint):
                raise ConfigError(f"{path}.{key}={values[key]!r} must be {described(hint)}")
        built.append(cls(**kwargs))
    return built


def matches(value: Any, hint: Any) -> bool:
    """Whether a config value has a field's declared type (ints count as floats; types
    this does not know, such as nested dataclasses, are left to the class)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(matches(value, a) for a in args)
    if hint is type(None):
        return value is None
    if hint in (int, float, bool, str):
        if isinstance(value, bool) != (hint is bool):
            return False
        return isinstance(value, (int, float) if hint is float else hint)
    if origin in (list, tuple, Sequence):
        if not isinstance(value, list | tuple):
            return False
        if origin is tuple and args and args[-1] is not Ellipsis:
            return len(value) == len(args) and all(map(matches, value, args))
        return all(matches(v, args[0]) for v in value) if args else True
    if origin in (dict, Mapping):
        return isinstance(value, dict)
    return True


def described(hint: Any) -> str:
    """A type as a config user reads it: "an integer", "a list of numbers or null"."""
    names = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join("null" if a is type(None) else described(a) for a in args)
    if origin is tuple and args and args[-1] is not Ellipsis:
        return f"a list of {len(args)} {described(args[0]).split(' ', 1)[1]}s"
    if origin in (list, tuple, Sequence) and args:
        return f"a list of {described(args[0]).split(' ', 1)[1]}s"
    return names.get(hint, getattr(hint, "__name__", str(hint)))


def call_registered(
    registry: Mapping[str, Callable[..., Any]], spec: Mapping[str, Any], path: str, first: Any
) -> Any:
    """Call `registry[spec.name](first, **other keys of spec)`, checking name and keys.

    For config nodes like `{name: power_law, alpha: 0.8}`: an unknown name or a key the
    function does not take is a one-line error naming `path` and what is allowed.
    """
    params = dict(spec)
    name = params.pop("name", None)
    if name not in registry:
        raise ConfigError(f"unknown {path}.name {name!r} (known: {', '.join(registry)})")
    expected = list(inspect.signature(registry[name]).parameters)[1:]
    if sorted(params) != sorted(expected):
        raise ConfigError(
            f"{path}: {name} takes {', '.join(expected) or 'no parameters'}; "
            f"got {', '.join(params) or 'none'}"
        )
    return registry[name](first, **params)

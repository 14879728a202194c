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
from hydra.errors import HydraException, OverrideParseException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from recall import schema
from recall.errors import ConfigError

CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs"
"""The Hydra configs (the repository's configs/, found through the editable install)."""
schema.register()  # before any config is composed: the YAML files name their schema


def compose(name: str, overrides: Sequence[str] = ()) -> DictConfig:
    """A top-level config (configs/<name>.yaml) with command-line style overrides,
    as its console script would see it: for notebooks, tests and the reproduction.
    What Hydra rejects (an unknown key or option, a value of the wrong type, an override
    it cannot parse) is a ConfigError with Hydra's message on one line."""
    with initialize_config_dir(version_base="1.3", config_dir=str(CONFIG_DIR)):
        try:
            cfg = hydra_compose(name, overrides=list(overrides))
        except HydraException as err:
            raise ConfigError(hydra_message(err)) from None
    check_known_keys(cfg, name)
    return cfg


def check_known_keys(cfg: DictConfig, name: str) -> None:
    """Refuse a key that the schema of config `name` lacks (one added with `+`), which
    recall would otherwise ignore: e.g. `+ckpt_path=...` on a config that cannot resume."""
    key = schema.unknown_key(cfg, schema.SCHEMAS[name])
    if key is not None:
        raise ConfigError(
            f"unknown key {key}: the {name} config has no such key (recall/schema.py lists "
            "them); remove it, or check its spelling"
        )


def hydra_message(err: HydraException) -> str:
    """Hydra's message on one line: without its search path, options listed inline, and
    for a value the schema rejects, the override and why (OmegaConf's reason)."""
    merging = str(err).startswith("Error merging")
    if merging and isinstance(err.__cause__, OmegaConfBaseException):
        what = str(err).splitlines()[0].removeprefix("Error merging override ")
        return f"{what}: {str(err.__cause__).splitlines()[0]}"
    lines = [ln.strip() for ln in str(err).split("Config search path:")[0].splitlines()]
    lines = [ln for ln in lines if ln]
    if len(lines) > 1 and lines[1].startswith("Available options"):
        return f"{lines[0]}; {lines[1].rstrip(':').lower()}: {', '.join(lines[2:])}"
    prefix = "cannot parse an override: " if isinstance(err, OverrideParseException) else ""
    return prefix + " ".join(ln if ln.endswith(".") else f"{ln};" for ln in lines).rstrip(";")


def typed(schema_type: type, *configs: Any) -> DictConfig:
    """`configs` merged in order onto `schema_type` (recall/schema.py): what composing checks,
    for configs made outside Hydra (a resumed run's saved config and its overrides, an
    ensemble's members); a value of the wrong type is a one-line ConfigError."""
    try:
        return OmegaConf.merge(OmegaConf.structured(schema_type), *configs)
    except OmegaConfBaseException as err:
        key = getattr(err, "full_key", None)
        raise ConfigError(f"{key}: {str(err).splitlines()[0]}" if key else str(err)) from None


def to_dataclasses(node: DictConfig, path: str, *classes: type, **extra: Any) -> list[Any]:
    """Split one flat config section over `classes` by field name.

    Types were checked when the config was composed (recall/schema.py); a key no class
    knows (from an old run's config.yaml; one forced in with `+` is refused earlier, by
    check_known_keys) is an error naming it and the known keys; `extra` values go to every
    class that has such a field (e.g. the run seed).
    """
    values = OmegaConf.to_container(node, resolve=True)
    known = [f.name for cls in classes for f in dataclasses.fields(cls) if f.name not in extra]
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ConfigError(f"unknown key {path}.{unknown[0]} (known: {', '.join(known)})")
    built = []
    for cls in classes:
        names = {f.name for f in dataclasses.fields(cls)}
        built.append(cls(**{k: v for k, v in {**values, **extra}.items() if k in names}))
    return built


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
    signature = inspect.signature(registry[name], eval_str=True)
    expected = list(signature.parameters)[1:]
    if sorted(params) != sorted(expected):
        raise ConfigError(
            f"{path}: {name} takes {', '.join(expected) or 'no parameters'}; "
            f"got {', '.join(params) or 'none'}"
        )
    for key, value in params.items():
        kind = signature.parameters[key].annotation
        if not _is_a(value, kind):
            kind_name = getattr(kind, "__name__", str(kind))
            raise ConfigError(f"{path}.{key}={value} must be of type {kind_name} ({name})")
    return registry[name](first, **params)


def _is_a(value: Any, kind: Any) -> bool:
    """Whether a config value has a registered function's parameter type (int, float, str,
    list, a union of them); an int is a float, a bool is neither. A parameter with no such
    annotation takes any value."""
    if isinstance(kind, types.UnionType) or typing.get_origin(kind) is typing.Union:
        return any(_is_a(value, member) for member in typing.get_args(kind))
    kind = typing.get_origin(kind) or kind
    if kind is type(None):
        return value is None
    if kind is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind in (Any, inspect.Parameter.empty) or not isinstance(kind, type):
        return True
    return isinstance(value, kind)

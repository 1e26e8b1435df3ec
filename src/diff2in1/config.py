"""Config dataclasses <-> command line and YAML.

Each command owns one dataclass; its fields are the command's options (the field's ``help`` metadata is
the option's help). The CLI is generated from it, and the resolved config is saved with each run so the
run can be repeated with ``--config run/config.yaml``.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

from .fileio import read_yaml

C = TypeVar("C")


def option(default: Any, help: str, **kwargs: Any) -> Any:
    """A dataclass field with a help text; lists get a fresh copy per instance."""
    if isinstance(default, (list, dict)):
        value = default
        return dataclasses.field(default_factory=lambda: type(value)(value), metadata={"help": help, **kwargs})
    return dataclasses.field(default=default, metadata={"help": help, **kwargs})


def _base_type(tp: Any) -> tuple[Any, bool]:
    """(element type, is_list) for the annotations used in configs: int, float, str, bool, X | None, list[X]."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return _base_type(args[0])
    if origin in (list, tuple):
        return typing.get_args(tp)[0], True
    return tp, False


def _parse_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true/false, got {text!r}")


def add_dataclass_arguments(parser: argparse.ArgumentParser, cls: type, positional: tuple[str, ...] = ()) -> None:
    """Add one option per field of ``cls`` (``--field-name``), plus ``--config FILE.yaml``."""
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        elem, is_list = _base_type(hints[field.name])
        kwargs: dict[str, Any] = {"help": field.metadata.get("help", "")}
        if elem is bool and not is_list:
            kwargs.update(type=_parse_bool, nargs="?", const=True, metavar="BOOL")
        else:
            kwargs["type"] = elem if elem in (int, float, str) else str
            if is_list:
                kwargs["nargs"] = "+"
        if "choices" in field.metadata:
            kwargs["choices"] = field.metadata["choices"]
        if field.name in positional:
            kwargs["nargs"] = kwargs.get("nargs", "?")
            parser.add_argument(field.name, default=None, **kwargs)
        else:
            flag = "--" + field.name.replace("_", "-")
            parser.add_argument(flag, dest=field.name, default=None, **kwargs)
    parser.add_argument("--config", dest="_config", default=None, help="YAML file with option values")


def config_from_dict(cls: type[C], values: dict[str, Any], where: str) -> C:
    """Build ``cls`` from the options given (a dict), rejecting unknown keys with a message naming their source.

    Layers, each overriding the one before: the field defaults, the named ``preset`` (a class with a
    ``presets`` {name: {option: value}} table), then ``values``. An option given explicitly always wins,
    whatever its value: equal to the default or not.
    """
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ValueError(f"{where}: unknown option(s) {unknown}; valid options: {sorted(names)}")
    return cls(**{**_preset(cls, values.get("preset"), where), **values})


def _preset(cls: type, name: str | None, where: str) -> dict[str, Any]:
    """The options of preset ``name`` of ``cls`` (empty for none)."""
    if not name:
        return {}
    presets = getattr(cls, "presets", {})
    if name not in presets:
        raise ValueError(f"{where}: unknown preset {name!r}; known presets: {sorted(presets)}")
    return dict(presets[name])


def config_from_args(cls: type[C], args: argparse.Namespace) -> C:
    """Defaults < the ``preset`` named < ``--config`` YAML < explicit command-line options."""
    values: dict[str, Any] = {}
    if getattr(args, "_config", None):
        values.update(read_yaml(args._config))
        where = str(args._config)
    else:
        where = "command line"
    for field in dataclasses.fields(cls):
        given = getattr(args, field.name, None)
        if given is not None:
            values[field.name] = given
    return config_from_dict(cls, values, where)


def config_to_dict(config: Any) -> dict[str, Any]:
    out = dataclasses.asdict(config)
    return {k: str(v) if isinstance(v, Path) else v for k, v in out.items()}

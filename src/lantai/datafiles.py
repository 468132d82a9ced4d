"""Reading the YAML data files that carry rules as data (domain, roles, check catalogue …).

One way to read and validate them, so every such file reports problems alike: the file, the path
inside it (``rules[3].levels[1][0]``) and the rule broken, in Chinese.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from lantai.errors import ConfigError, Problem

__all__ = ["YAML_LOADER", "load_model", "read_yaml", "validate_model"]

# libyaml's C loader when present (about ten times faster); both are safe loaders.
YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

M = TypeVar("M", bound=BaseModel)


def read_yaml(path: Path, problems: list[Problem]) -> Any:
    """The parsed content of ``path``, or None with the problem appended (encoding, syntax)."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        problems.append(
            Problem(
                file=str(path), rule="UTF-8", message=f"文件不是 UTF-8 编码（字节 {exc.start}）"
            )
        )
        return None
    try:
        return yaml.load(text, Loader=YAML_LOADER)
    except yaml.YAMLError as exc:
        problems.append(Problem(file=str(path), rule="YAML", message=f"YAML 语法错误：{exc}"))
        return None


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def validate_model(model: type[M], data: Any, path: Path, problems: list[Problem]) -> M | None:
    """``model`` validated from ``data``, or None with one problem per schema error appended."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            msg = str(err.get("msg", "")).removeprefix("Value error, ")
            problems.append(
                Problem(file=str(path), field=_loc(tuple(err["loc"])), rule="schema", message=msg)
            )
        return None


def load_model(path: Path, model: type[M], *, title: str) -> M:
    """Read and validate one data file; raises ConfigError("<title>校验失败", problems)."""
    problems: list[Problem] = []
    data = read_yaml(path, problems)
    parsed = validate_model(model, data, path, problems) if not problems else None
    if parsed is None:
        raise ConfigError(f"{title}校验失败", problems)
    return parsed

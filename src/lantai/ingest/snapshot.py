"""A staged :class:`~lantai.ingest.transfer.Transfer` written to and read back from JSON.

The ingest job reads and hashes a package once, then writes this snapshot into the transfer's
staging directory before it commits the ``staged`` state. Every later step — a resumed one in a
new process included — starts from the snapshot, never from the package: no byte is read or
hashed twice, even across a crash. The snapshot is also kept in the AIP
(``data/metadata/transfer.json``) as the normalised record of what was received.

Public API: :func:`dump_transfer`, :func:`load_transfer`, :func:`write_snapshot`,
:func:`read_snapshot`. Values of free-form fields (record values, reader facts) that JSON cannot
hold — dates, datetimes, bytes, decimals, paths — are tagged (``{"$date": "2011-03-05"}``) so
they come back with their type.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import json
import os
import secrets
import types
import typing
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from pathlib import Path, PurePath
from typing import Any

from lantai.ingest.transfer import Transfer

__all__ = ["SCHEMA", "dump_transfer", "load_transfer", "read_snapshot", "write_snapshot"]

SCHEMA = "lantai.ingest.transfer/1"


_PLAIN = frozenset({str, int, float, bool, type(None)})


@functools.cache
def _names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


def _encode(value: Any) -> Any:
    # Exact-type fast paths first: a transfer of 10,000 files is about 500,000 values.
    kind: type = type(value)
    if kind in _PLAIN:
        return value
    if kind is dict:
        return {str(k): _encode(v) for k, v in value.items()}
    if kind is list:
        return [_encode(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {name: _encode(getattr(value, name)) for name in _names(kind)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, PurePath):
        return {"$path": str(value)}
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, bytes | bytearray):
        return {"$bytes": base64.b64encode(value).decode("ascii")}
    if isinstance(value, dict):
        return {str(k): _encode(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_encode(v) for v in value]
    return value


_TAGS: dict[str, Callable[[Any], Any]] = {
    "$path": Path,
    "$datetime": datetime.fromisoformat,
    "$date": date.fromisoformat,
    "$decimal": Decimal,
    "$bytes": base64.b64decode,
}


def _untag(value: Any) -> Any:
    if isinstance(value, dict):
        if len(value) == 1:
            ((key, raw),) = value.items()
            fn = _TAGS.get(key)
            if fn is not None:
                return fn(raw)
        return {k: _untag(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_untag(v) for v in value]
    return value


def _decode(value: Any, hint: Any) -> Any:
    """``value`` (as encoded) turned back into ``hint``'s type."""
    if hint is Any:
        return _untag(value)
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if value is None:
            return None
        return _decode(value, args[0]) if len(args) == 1 else _untag(value)
    if origin is list:
        (arg,) = typing.get_args(hint)
        return [_decode(v, arg) for v in value]
    if origin is dict:
        _k, arg = typing.get_args(hint)
        return {k: _decode(v, arg) for k, v in value.items()}
    if isinstance(hint, type):
        if dataclasses.is_dataclass(hint):
            return _from_dict(hint, value)
        if issubclass(hint, Enum):
            return hint(value)
        if issubclass(hint, PurePath):
            return Path(value["$path"] if isinstance(value, dict) else value)
        if hint is datetime:
            return datetime.fromisoformat(value["$datetime"])
        if hint is date:
            return date.fromisoformat(value["$date"])
    return _untag(value)


@functools.cache
def _fields(cls: type) -> tuple[tuple[str, Any], ...]:
    """(name, resolved type) of a dataclass's fields, resolved once per class."""
    hints = typing.get_type_hints(cls)
    return tuple((f.name, hints[f.name]) for f in dataclasses.fields(cls))


def _from_dict(cls: type, data: dict[str, Any]) -> Any:
    kwargs = {name: _decode(data[name], hint) for name, hint in _fields(cls) if name in data}
    return cls(**kwargs)


def dump_transfer(transfer: Transfer) -> dict[str, Any]:
    """The transfer as a JSON-ready dict (with a schema marker)."""
    return {"schema": SCHEMA, "transfer": _encode(transfer)}


def load_transfer(data: dict[str, Any]) -> Transfer:
    if data.get("schema") != SCHEMA:
        raise ValueError(f"not a transfer snapshot ({data.get('schema')!r})")
    transfer: Transfer = _from_dict(Transfer, data["transfer"])
    return transfer


def write_snapshot(transfer: Transfer, path: Path) -> Path:
    """Write the snapshot atomically and durably (temp + fsync + rename)."""
    data = json.dumps(dump_transfer(transfer), ensure_ascii=False, separators=(",", ":"))
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    with tmp.open("x", encoding="utf-8") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path


def read_snapshot(path: Path) -> Transfer:
    return load_transfer(json.loads(path.read_text(encoding="utf-8")))

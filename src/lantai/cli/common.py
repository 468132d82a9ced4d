"""What every command shares: opening the instance, printing errors, progress bars."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import NoReturn, TypeVar

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from lantai.errors import LantaiError
from lantai.instance import Instance
from lantai.settings import Settings

__all__ = ["console", "err_console", "fail", "open_instance", "progress", "run"]

# soft_wrap: long lines (paths, commands to copy) are never broken by the console.
console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)
T = TypeVar("T")


def open_instance() -> Instance:
    """The instance named by LANTAI_HOME / LANTAI_DATABASE_URL (must be initialised)."""
    try:
        return Instance.open(Settings.load())
    except FileNotFoundError as exc:
        fail(str(exc))
    except LantaiError as exc:
        fail(str(exc))


def fail(message: str, code: int = 1) -> NoReturn:
    err_console.print(f"[bold red]错误：[/]{message}", highlight=False)
    raise typer.Exit(code)


def run(fn: Callable[[], T]) -> T:
    """Run ``fn``; a LantaiError becomes a readable message (every problem listed) and exit 1."""
    try:
        return fn()
    except LantaiError as exc:
        err_console.print(f"[bold red]错误：[/]{exc.message}", highlight=False)
        for p in exc.problems[:200]:
            err_console.print(f"  - {p}", highlight=False)
        if len(exc.problems) > 200:
            err_console.print(f"  …… 另有 {len(exc.problems) - 200} 处问题", highlight=False)
        raise typer.Exit(1) from None


@contextmanager
def progress(description: str, total: int | None) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr; yields ``advance(n)``. Silent when stderr is not a terminal."""
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        disable=not sys.stderr.isatty(),
    )
    with bar:
        task = bar.add_task(description, total=total)

        def advance(n: int = 1) -> None:
            bar.advance(task, n)

        yield advance

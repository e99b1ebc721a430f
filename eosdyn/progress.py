"""A progress bar for long work (rich), silent when disabled or not on a terminal."""

from __future__ import annotations

import contextlib
import sys


@contextlib.contextmanager
def progress_bar(total: int, enabled: bool, label: str, unit: str = "steps"):
    """Yield ``advance(k)``; draws a rich bar with count, rate and ETA when enabled on a TTY."""
    if not enabled or not sys.stderr.isatty():
        yield lambda k: None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        TextColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class Rate(ProgressColumn):
        def render(self, task):
            speed = task.finished_speed or task.speed
            return Text("" if speed is None else f"{speed:,.0f} {unit}/s")

    columns = (
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), Rate(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, transient=True) as prog:
        task = prog.add_task(label, total=total)
        yield lambda k: prog.advance(task, k)

"""A progress display per stage on long work: one tqdm bar on stderr, naming the running stage.

Off unless asked (the CLI asks when stderr is a terminal and --quiet is not given), so logs and
tests stay plain.  While it runs, log lines go through tqdm so they do not tear the bar.
"""

from __future__ import annotations

import contextlib
import sys

from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm


class StageProgress:
    def __init__(self, names: tuple[str, ...], enabled: bool, file=None):
        self.bar = tqdm(total=len(names), desc="implantgen", unit="stage", disable=not enabled,
                        file=file or sys.stderr, leave=False, dynamic_ncols=True,
                        bar_format="{desc} ({n_fmt}/{total_fmt} stages done) |{bar}| {elapsed}")
        self.done: set[str] = set()

    def start(self, name: str) -> None:
        self.bar.set_description(f"implantgen: {name:<8}", refresh=True)

    def finish(self, name: str) -> None:
        self.done.add(name)
        self.bar.update(len(self.done) - self.bar.n)

    def caught_up(self, names) -> None:
        """Stages a forked child ran and drew on this bar: this copy of the bar shows them done
        (at once, so the count does not step back on screen)."""
        names = list(names)
        if names:
            self.done.update(names)
            self.bar.n = len(self.done)
            self.bar.set_description(f"implantgen: {names[-1]:<8}", refresh=True)

    def close(self) -> None:
        self.bar.close()


@contextlib.contextmanager
def stage_progress(names: tuple[str, ...], enabled: bool, file=None):
    progress = StageProgress(names, enabled, file)
    try:
        if enabled:
            with logging_redirect_tqdm():
                yield progress
        else:
            yield progress
    finally:
        progress.close()

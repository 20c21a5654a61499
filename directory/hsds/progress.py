"""A terminal progress bar on stderr (drawn only when stderr is a terminal)."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from django.utils.translation import gettext_lazy as _

PHASES = {
    "read": _("Reading"),
    "check": _("Checking"),
    "save": _("Saving"),
    "export": _("Exporting"),
}


class TerminalBar:
    """Callable as a Progress: bar(phase, done, total)."""

    def __init__(
        self, stream: TextIO | None = None, *, width: int = 30, enabled: bool | None = None
    ):
        self.stream = stream or sys.stderr
        self.width = width
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.last_draw = 0.0
        self.drawn = False

    def __call__(self, phase: str, done: int, total: int) -> None:
        now = time.monotonic()
        # Redrawing more often than ten times a second only slows the import down.
        if not self.enabled or (done < total and now - self.last_draw < 0.1):
            return
        self.last_draw = now
        filled = self.width * done // max(total, 1)
        label = str(PHASES.get(phase, phase))
        percent = 100 * done // max(total, 1)
        self.stream.write(
            f"\r{label:<10} [{'#' * filled}{'.' * (self.width - filled)}] {percent:3d}% {done}/{total}"
        )
        self.stream.flush()
        self.drawn = True

    def finish(self) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()
            self.drawn = False

"""What a command may touch: the environment and the standard streams, with the habits
of a terminal tool (colour only on a terminal and without NO_COLOR; warnings on stderr)."""

from __future__ import annotations

import os
from typing import Mapping, Sequence, TextIO

from ..core.diagnostics import Diagnostic
from ..render.text import render_diagnostics

EXIT_OK, EXIT_ERROR, EXIT_CHANGES = 0, 1, 2


class Context:
    def __init__(self, environ: Mapping[str, str], stdout: TextIO, stderr: TextIO, stdin: TextIO):
        self.environ = environ
        self.stdout = stdout
        self.stderr = stderr
        self.stdin = stdin

    def interactive(self, stream: TextIO) -> bool:
        """A person watches this stream: a terminal that can redraw a line."""
        if self.environ.get("TERM") == "dumb":
            return False
        return bool(getattr(stream, "isatty", None) and stream.isatty())

    def width(self, stream: TextIO) -> int:
        """The terminal's width in columns: COLUMNS when set, else the terminal `stream` is on, else 80."""
        columns = self.environ.get("COLUMNS", "")
        if columns.isdigit() and int(columns) > 0:
            return int(columns)
        try:
            return os.get_terminal_size(stream.fileno()).columns or 80
        except (AttributeError, OSError, ValueError):  # not a terminal, or no file behind it
            return 80

    def color(self, stream: TextIO) -> bool:
        return self.interactive(stream) and not self.environ.get("NO_COLOR")

    def out(self, text: str = "") -> None:
        self.stdout.write(text if text.endswith("\n") else text + "\n")
        self.stdout.flush()

    def err(self, text: str) -> None:
        self.stderr.write(text if text.endswith("\n") else text + "\n")
        self.stderr.flush()

    def show(self, diagnostics: Sequence[Diagnostic]) -> None:
        """Warnings and errors, one located line each, on stderr."""
        for line in render_diagnostics(diagnostics, color=self.color(self.stderr)):
            self.err(line)

    def session(self):
        """The library's `Session` for this command, its warnings shown as they come."""
        from ..session import Session  # lazily: the session pulls in requests and msal

        return Session(self.environ, on_diagnostics=self.show)

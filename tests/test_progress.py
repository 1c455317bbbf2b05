"""Progress output: a redrawn status line on terminals, plain lines elsewhere."""

import io
import threading

import pytest

from reconciler.cli.context import Context
from reconciler.render.progress import Progress


def test_plain_output_is_one_line_per_change():
    out = io.StringIO()
    with Progress(out, 2, live=False) as progress:
        progress.started("key set B2C_1A_A")
        progress.finished("+ key set B2C_1A_A: created")
        progress.started("key in B2C_1A_A: generate RSA sig key")
        progress.finished("+ key in B2C_1A_A: generate RSA sig key: added (kid k)")
    assert out.getvalue() == "+ key set B2C_1A_A: created\n+ key in B2C_1A_A: generate RSA sig key: added (kid k)\n"


def test_terminal_output_redraws_a_status_line_and_clears_it():
    out = io.StringIO()
    with Progress(out, 3, live=True) as progress:
        progress.started("key set B2C_1A_A")
        assert progress.status_line().startswith("[0/3] 0:00 key set B2C_1A_A")
        progress.finished("+ key set B2C_1A_A: created")
        assert progress.status_line().startswith("[1/3] 0:00")
    text = out.getvalue()
    assert "\r\033[K[0/3] 0:00 key set B2C_1A_A" in text
    assert "\r\033[K+ key set B2C_1A_A: created\n" in text
    assert text.endswith("\r\033[K")  # the status line is gone at the end
    assert text.replace("\r\033[K", "\n").count("+ key set B2C_1A_A: created") == 1


def test_status_line_counts_workers_in_flight():
    progress = Progress(io.StringIO(), 10, live=False)
    ready = threading.Barrier(3)
    release = threading.Event()

    def worker(name):
        progress.started(name)
        ready.wait()
        release.wait()

    threads = [threading.Thread(target=worker, args=(f"key set B2C_1A_{n}",)) for n in "AB"]
    for t in threads:
        t.start()
    ready.wait()
    line = progress.status_line()
    release.set()
    for t in threads:
        t.join()
    assert line.startswith("[0/10] 0:00 key set B2C_1A_") and line.endswith("(+1 more)")


@pytest.mark.parametrize("width", [40, 80, 200])
def test_the_status_line_fits_the_terminal(width):
    out = io.StringIO()
    long_name = "key in B2C_1A_" + "VeryLongKeySetName" * 12 + ": generate RSA sig key"
    with Progress(out, 3, live=True, width=lambda: width) as progress:
        progress.started(long_name)
        line = progress.status_line()
        assert line == ("[0/3] 0:00 " + long_name)[: width - 1]
        progress.finished("+ done")
    drawn = [part for part in out.getvalue().split("\r\033[K") if part.startswith("[")]
    assert len(drawn[0]) == width - 1 and all(len(part) < width for part in drawn)  # never as wide: no wrap


def test_a_short_status_line_is_not_padded_and_the_width_is_asked_at_each_redraw():
    widths = iter([200, 30])
    progress = Progress(io.StringIO(), 1, live=False, width=lambda: next(widths))
    progress.started("key set B2C_1A_A")
    assert progress.status_line() == "[0/1] 0:00 key set B2C_1A_A"
    assert progress.status_line() == "[0/1] 0:00 key set B2C_1A_A"[:29]  # resized


@pytest.mark.parametrize("columns, expected", [("40", 40), ("200", 200), ("", 80), ("wide", 80), ("0", 80)])
def test_the_terminal_width_comes_from_columns_else_the_stream(columns, expected):
    ctx = Context({"COLUMNS": columns} if columns else {}, io.StringIO(), io.StringIO(), io.StringIO())
    assert ctx.width(ctx.stdout) == expected  # a StringIO has no terminal: 80

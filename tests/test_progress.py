"""Progress output: a redrawn status line on terminals, plain lines elsewhere."""

import io
import threading

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

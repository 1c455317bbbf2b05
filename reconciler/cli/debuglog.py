"""`--debug`: a log of every HTTP request and answer on stderr, with nothing secret in it.

Only the `b2ckeys` loggers are shown: msal's and urllib3's records are never
shown, with or without `--debug` (b2ckeys cannot vouch for what they hold). Each request is one line (method, URL, headers with the
`Authorization` value redacted, whether it has a body, never the body nor its size) and each
answer one line (status, time, request-id, size); every line also goes through
`reconciler.graph.redact.scrub`, so a secret in play or anything token-shaped cannot
get through even where a line would otherwise carry it.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Iterator, TextIO

from ..graph.redact import scrub

LOGGER = "b2ckeys"


class _Scrubbed(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))


QUIET = ("msal", "urllib3", "requests", "azure")  # libraries that may log a traceback or a response on their own


@contextmanager
def configured(stream: TextIO, debug: bool) -> Iterator[None]:
    """Within the block, the libraries' own log records go nowhere (Python would print
    their warnings and tracebacks, with whatever they hold, on stderr), and with `debug`
    the `b2ckeys` loggers' lines go to `stream`."""
    quiet = logging.NullHandler()
    for name in QUIET:
        logging.getLogger(name).addHandler(quiet)
    logger = logging.getLogger(LOGGER)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(_Scrubbed("debug: %(name)s: %(message)s"))
    previous = (logger.level, logger.propagate)
    if debug:
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
        logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous[0])
        logger.propagate = previous[1]
        for name in QUIET:
            logging.getLogger(name).removeHandler(quiet)

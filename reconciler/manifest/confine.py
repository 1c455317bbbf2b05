"""Keeping file references inside the repository.

A manifest from a pull request may name any path in `{file: PATH}`; b2ckeys
reads only files inside a *root*: `B2CKEYS_SECRETS_ROOT` when set, else the git
work tree that holds the manifest (the nearest folder above it with a `.git`
entry, a folder or, in a worktree or submodule, a file), else the manifest's
own folder. Paths are compared after `os.path.realpath`, so `..` and symbolic
links are followed exactly as opening the file would follow them.
"""

from __future__ import annotations

import os
import stat

SECRETS_ROOT_VARIABLE = "B2CKEYS_SECRETS_ROOT"


def read_regular_file(path: str, limit: int) -> bytes:
    """The bytes of `path`; ValueError when it is not a regular file or holds more than `limit`
    bytes. Opened without blocking, so a FIFO or a device cannot hang a run."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ValueError("not a regular file")
        raw = fh.read(limit + 1)
    if len(raw) > limit:
        raise ValueError(f"larger than {limit // 1024} KiB")
    return raw


def repository_root(folder: str) -> str:
    """The real path of the git work tree holding `folder`, else of `folder` itself."""
    start = os.path.realpath(folder or os.curdir)
    current = start
    while True:
        if os.path.lexists(os.path.join(current, ".git")):
            return current
        parent = os.path.dirname(current)
        if parent == current:
            return start
        current = parent


def is_inside(path: str, root: str) -> bool:
    path, root = os.path.normcase(path), os.path.normcase(root)
    try:
        return os.path.commonpath([path, root]) == root
    except ValueError:  # different drives (Windows)
        return False


def escape(written: str, base_dir: str, root: str) -> str | None:
    """Why `written` (relative to `base_dir`, or absolute) is not a file inside `root`
    (a real path), or None when it is inside."""
    if "\0" in written:
        return "the path contains a NUL character"
    joined = os.path.join(os.path.realpath(base_dir or os.curdir), written)
    if not is_inside(os.path.normpath(joined), root):
        if os.path.isabs(written):
            return f"it is an absolute path outside {root}"
        if os.pardir in written.replace("\\", "/").split("/"):
            return f"it leads out of {root} through '..'"
        return f"it is outside {root}"
    if not is_inside(os.path.realpath(joined), root):
        return f"a symbolic link on the way leads out of {root}"
    return None

"""The action's main step: runs one b2ckeys command as the inputs say, writes the step's outputs,
appends the output to the run summary and, when asked, posts it on the pull request.

Inputs arrive in INPUT_* variables (never through the text of a script); `args` is split with
shlex, never evaluated by a shell. Exit: 1 when b2ckeys failed; plan's 2 and drift's bits 2, 4, 8
are outputs, not failures, unless fail-on-changes is true."""

import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # comment.py, beside this file

import comment  # noqa: E402  (after the path above)

COMMENT_FORMATS = {"plan", "drift", "show"}  # the commands with --format markdown
DRIFT_BITS = 2 | 4 | 8
SUMMARY_LIMIT = 1_000_000  # GitHub takes at most 1 MiB of summary per step


class InputError(Exception):
    """An input the action cannot use: one line, exit 1."""


def flag(name: str) -> bool:
    value = os.environ.get(name, "").strip().lower()
    if value not in ("", "true", "false"):
        raise InputError(f"{name[6:].lower().replace('_', '-')} must be true or false, not {value!r}")
    return value == "true"


def command_line(command: str, args: str, commenting: bool) -> list[str]:
    if not re.fullmatch(r"[a-z][a-z-]*", command):
        raise InputError(f"command must be one b2ckeys command (plan, apply, drift, ...), not {command!r}")
    try:
        words = shlex.split(args, comments=False, posix=True)
    except ValueError as error:
        raise InputError(f"args cannot be split: {error}") from None
    if command == "plan" and "--detailed-exitcode" not in words:
        words.append("--detailed-exitcode")
    if commenting and command in COMMENT_FORMATS and not any(w.startswith("--format") for w in words):
        words += ["--format", "markdown"]
    return [command, *words]


def marker_key(given: str, command: str, workdir: str) -> str:
    key = given.strip() or f"{command}:{Path(workdir).as_posix()}"
    if not re.fullmatch(r"[A-Za-z0-9._:/@+=-]+", key) or "--" in key:
        raise InputError(f"comment-marker may hold letters, digits and . _ : / @ + = - only, not {given!r}")
    return key


def is_markdown(argv: list[str]) -> bool:
    for i, word in enumerate(argv):
        if word == "--format" and i + 1 < len(argv):
            return argv[i + 1] == "markdown"
        if word.startswith("--format="):
            return word == "--format=markdown"
    return False


def fenced(text: str) -> str:
    """Text in a code block that nothing inside can close."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text.rstrip()}\n{fence}\n"


@contextmanager
def no_workflow_commands():
    """What b2ckeys prints quotes manifests and the tenant: the runner must not take a line of it
    for a workflow command (`::add-mask::`, `::error::`), so they are off until a random token."""
    token = os.urandom(16).hex()
    print(f"::stop-commands::{token}", flush=True)
    try:
        yield
    finally:
        print(f"::{token}::", flush=True)


def run_b2ckeys(bin_dir: str, argv: list[str], out_file: Path) -> tuple[int, str]:
    """Runs b2ckeys with stdout to out_file; stderr goes to the log and is returned too."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("INPUT_")}  # no GitHub token
    print(f"$ b2ckeys {shlex.join(argv)}", flush=True)
    with out_file.open("wb") as out:
        process = subprocess.Popen([str(Path(bin_dir) / "b2ckeys"), *argv], stdout=out,
                                   stderr=subprocess.PIPE, env=environ)
        lines = []
        for line in process.stderr:
            sys.stderr.buffer.write(line)
            sys.stderr.flush()
            lines.append(line)
        code = process.wait()
    return code, b"".join(lines).decode("utf-8", "replace")


def rendered(command: str, argv: list[str], code: int, out: str, err: str) -> str:
    """What the summary and the comment show: Markdown as b2ckeys rendered it (it escapes what the
    tenant and the manifests say), anything else in a code block, and the errors of a failed run."""
    text = out if is_markdown(argv) else (fenced(out) if out.strip() else "")
    if failed(command, code, fail_on_changes=False):
        title = f"### b2ckeys {command} failed (exit code {code})\n\n"
        text = title + (text + "\n" if text else "") + fenced(err or "(no message)")
    elif not text:
        text = f"### b2ckeys {command}\n\nExit code {code}.\n"
    return text


def failed(command: str, code: int, fail_on_changes: bool) -> bool:
    if code == 0:
        return False
    if command == "plan" and code == 2:
        return fail_on_changes
    if command == "drift" and code & DRIFT_BITS == code:
        return fail_on_changes
    return True


def write_outputs(values: dict[str, str]) -> None:
    path = os.environ.get("GITHUB_OUTPUT")
    if not path:
        return
    with open(path, "a", encoding="utf-8") as f:
        for key, value in values.items():
            delimiter = f"b2ckeys_{os.urandom(8).hex()}"
            f.write(f"{key}<<{delimiter}\n{value}\n{delimiter}\n")


def append_summary(text: str) -> None:
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if path:
        if len(text.encode()) > SUMMARY_LIMIT:
            text = comment.cut(text, SUMMARY_LIMIT, "\n\n*Cut: the whole output is in the step's log.*\n")
        with open(path, "a", encoding="utf-8") as f:
            f.write(text.rstrip("\n") + "\n\n")


def pull_request_number() -> int | None:
    path = os.environ.get("GITHUB_EVENT_PATH")
    if not path or not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        event = json.load(f)
    pull = event.get("pull_request") or {}  # pull_request and pull_request_target
    issue = event.get("issue") or {}  # issue_comment on a pull request
    number = pull.get("number") if pull else issue.get("number") if issue.get("pull_request") else None
    return number if isinstance(number, int) and not isinstance(number, bool) else None


def main() -> int:
    try:
        command = os.environ.get("INPUT_COMMAND", "plan").strip()
        commenting = flag("INPUT_COMMENT")
        fail_on_changes = flag("INPUT_FAIL_ON_CHANGES")
        workdir = os.environ.get("INPUT_WORKING_DIRECTORY", ".") or "."
        argv = command_line(command, os.environ.get("INPUT_ARGS", ""), commenting)
        key = marker_key(os.environ.get("INPUT_COMMENT_MARKER", ""), command, workdir)
        os.chdir(workdir)
    except (InputError, OSError) as error:
        print(f"::error::b2ckeys action: {error}", flush=True)
        write_outputs({"exit-code": "1", "changes": "false"})
        return 1
    folder = Path(tempfile.mkdtemp(prefix=f"b2ckeys-{command}-", dir=os.environ.get("RUNNER_TEMP")))
    out_file = folder / ("output.md" if is_markdown(argv) else "output.txt")
    with no_workflow_commands():
        code, err = run_b2ckeys(os.environ["B2CKEYS_BIN"], argv, out_file)
        out = out_file.read_text(encoding="utf-8", errors="replace")
        sys.stdout.write(out if out.endswith("\n") or not out else out + "\n")
        sys.stdout.flush()
    text = rendered(command, argv, code, out, err)
    append_summary(text)
    changes = (command == "plan" and code == 2) or (command == "drift" and code & DRIFT_BITS == code and code & 2 == 2)
    outputs = {"exit-code": str(code), "changes": "true" if changes else "false", "output-file": str(out_file)}
    status = 1 if failed(command, code, fail_on_changes) else 0
    if commenting:
        number = pull_request_number()
        if number is None:
            print("b2ckeys action: not a pull request, so no comment is posted", flush=True)
        else:
            try:
                outputs["comment-url"] = comment.post(comment.Settings.from_environ(os.environ), number,
                                                      f"<!-- b2ckeys:{key} -->", text)
                print(f"b2ckeys action: the output is on the pull request: {outputs['comment-url']}", flush=True)
            except comment.CommentError as error:
                print(f"::error::b2ckeys action: the comment was not posted: {error}", flush=True)
                status = 1
    write_outputs(outputs)
    if status:
        print(f"::error::b2ckeys {command} exited with {code}", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())

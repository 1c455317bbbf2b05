"""The Azure CLI credential (`B2CKEYS_AUTH=azure-cli`): the Graph token of the account `az`
is signed in as, from `az account get-access-token`, the way pipelines that ran
`azure/login` (GitHub) or an `AzureCLI@2` task (Azure DevOps) are signed in.

As azure-identity's AzureCliCredential: `az` is found with `shutil.which` (`az.cmd` on
Windows) on the PATH of the environment given, run with a list of arguments (no shell),
stdin closed, `AZURE_CORE_NO_COLOR`, from a folder of the system's (not the current one),
and a timeout (`B2CKEYS_AZ_TIMEOUT` seconds, default 60), after which it is killed.
At most `OUTPUT_LIMIT` bytes of its output are kept. The token is reused until
`REFRESH_SECONDS` before it expires (`expires_on`, epoch seconds, from az 2.54; else
`expiresOn`, local time), then asked for again.

az's stdout holds the token: it is never shown, not even in part. On failure, the error
shows az's stderr, cut short, scrubbed of anything token-shaped and escaped, with what to do.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import math
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from typing import Callable, Mapping

from ..core.diagnostics import printable
from ..core.errors import AuthError, ConfigError
from ..graph.deadline import Deadline
from ..graph.redact import scrub

TIMEOUT = "B2CKEYS_AZ_TIMEOUT"
DEFAULT_TIMEOUT = 60.0
REFRESH_SECONDS = 300  # as azure-identity: a token this close to expiring is renewed first
OUTPUT_LIMIT = 256 * 1024  # az prints some 3 KB; more is not its answer
SHOWN_STDERR = 500
_TENANT = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]{0,252}")
_RESOURCE = re.compile(r"https?://[A-Za-z0-9.:\[\]/_-]+")  # nothing a cmd.exe line (az.cmd) would read as syntax
log = logging.getLogger("b2ckeys.signin")
_LOGIN = ("az login", "az account set", "AADSTS70043", "AADSTS700082", "expired")


def find_az(environ: Mapping[str, str]) -> str | None:
    """The full path of `az` on the environment's PATH, or None (also when it has no PATH)."""
    path = environ.get("PATH") or ""
    if not path:
        return None
    for name in (("az.cmd", "az") if os.name == "nt" else ("az",)):
        found = shutil.which(name, path=path)
        if found:
            return os.path.abspath(found)
    return None


def timeout_from(environ: Mapping[str, str]) -> float:
    raw = environ.get(TIMEOUT, "").strip() or str(DEFAULT_TIMEOUT)
    try:
        seconds = float(raw)
        if not 0 < seconds <= 3600:
            raise ValueError
    except ValueError:
        raise ConfigError(f"{TIMEOUT}={raw!r} must be a number of seconds above 0, at most 3600 "
                          f"(default {DEFAULT_TIMEOUT:g})") from None
    return seconds


@dataclass(frozen=True)
class Ran:
    code: int | None  # None: killed at the timeout
    stdout: bytes
    stderr: bytes


def run_bounded(args: list[str], env: Mapping[str, str], timeout: float, limit: int = OUTPUT_LIMIT) -> Ran:
    """Runs `args` (no shell, stdin closed), keeping at most `limit` bytes of each output
    stream (the rest is read and dropped, so the program never blocks on a full pipe);
    killed, with its process group, after `timeout` seconds."""
    posix = os.name != "nt"
    cwd = os.environ.get("SYSTEMROOT") if not posix else "/"
    process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=dict(env), cwd=cwd or None, start_new_session=posix)
    kept: dict[str, bytes] = {}

    def drain(name: str, stream) -> None:
        chunks, size = [], 0
        try:
            for chunk in iter(lambda: stream.read(65536), b""):
                if size < limit:
                    chunks.append(chunk[: limit - size])
                    size += len(chunks[-1])
        except (OSError, ValueError):  # closed below, while a grandchild still held the pipe
            pass
        kept[name] = b"".join(chunks)

    readers = [threading.Thread(target=drain, args=(name, stream), daemon=True)
               for name, stream in (("stdout", process.stdout), ("stderr", process.stderr))]
    for reader in readers:
        reader.start()
    try:
        code: int | None = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        code = None
        _kill(process, posix)
    for reader in readers:
        reader.join(timeout=5)  # a grandchild may still hold the pipe: its output is not waited for
    for stream in (process.stdout, process.stderr):
        stream.close()
    return Ran(code, kept.get("stdout", b""), kept.get("stderr", b""))


def _kill(process: subprocess.Popen, posix: bool) -> None:
    try:
        if posix:
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.kill()
    except OSError:  # already gone
        pass
    process.wait()


class AzureCliTokens:
    """Graph tokens from `az account get-access-token`, each reused until shortly before it expires."""

    def __init__(self, executable: str, environ: Mapping[str, str], *, resource: str, tenant: str = "",
                 clock: Callable[[], float] = time.time, deadline: Deadline | None = None):
        if tenant and not _TENANT.fullmatch(tenant):
            raise ConfigError(f"AZURE_TENANT_ID={printable(tenant)[:100]!r} is not a tenant id or domain")
        if not _RESOURCE.fullmatch(resource):
            raise ConfigError(f"the Graph root {printable(resource)[:200]!r} cannot be passed to az as --resource: "
                              "only letters, digits and . : / _ - [ ] are allowed; check B2CKEYS_GRAPH_URL")
        self.executable, self.resource, self.tenant = executable, resource, tenant
        self.timeout = timeout_from(environ)
        self._environ = dict(environ, AZURE_CORE_NO_COLOR="true", AZURE_CORE_ONLY_SHOW_ERRORS="true")
        self._clock, self._deadline = clock, deadline or Deadline()
        self._token, self._expires_on = "", 0.0

    @property
    def command(self) -> list[str]:
        tenant = ["--tenant", self.tenant] if self.tenant else []
        return [self.executable, "account", "get-access-token", "--resource", self.resource, *tenant,
                "--output", "json"]

    def shown_command(self) -> str:
        return "az " + " ".join(self.command[1:])

    def token(self) -> str:
        if not self._token or self._clock() >= self._expires_on - REFRESH_SECONDS:
            self._token, self._expires_on = self._ask()
        return self._token

    def _ask(self) -> tuple[str, float]:
        remaining = self._deadline.remaining()  # B2CKEYS_DEADLINE bounds az as it bounds every request
        if remaining <= 0:
            raise self._deadline.not_started(self.shown_command())
        timeout = min(self.timeout, remaining)
        log.debug("running %s (timeout %g s)", self.shown_command(), timeout)
        started = time.monotonic()
        try:
            ran = run_bounded(self.command, self._environ, timeout)
            log.debug("az answered: exit %s, %d bytes on stdout (never shown), %d on stderr, %.1f s", ran.code,
                      len(ran.stdout), len(ran.stderr), time.monotonic() - started)
        except OSError as e:
            raise AuthError(f"{self.shown_command()}: cannot run {self.executable} ({e.strerror or type(e).__name__}); "
                            "check that the Azure CLI is installed and runs") from None
        if ran.code is None and timeout < self.timeout:
            raise self._deadline.cut(self.shown_command())
        if ran.code is None:
            raise AuthError(f"{self.shown_command()}: az did not answer within {self.timeout:g} s and was stopped; "
                            f"check that az runs and does not wait for input (run it yourself), or raise {TIMEOUT}")
        if ran.code != 0:
            raise AuthError(self._failed(ran))
        answer = _parse(ran.stdout)
        if answer is None:
            raise AuthError(f"{self.shown_command()}: az printed something that is not the answer of "
                            "'az account get-access-token' (an access token and when it expires), not shown "
                            "as it may hold a token; check 'az version' and what az prints")
        return answer

    def _failed(self, ran: Ran) -> str:
        text = ran.stderr.decode("utf-8", "replace").strip()
        shown = printable(scrub(" ".join(text.split())))
        if len(shown) > SHOWN_STDERR:
            shown = shown[: SHOWN_STDERR - 1] + "…"
        if ran.code in (9009, 127):
            hint = f"az is not installed: {self.executable} could not run the Azure CLI"
        elif any(word.lower() in text.lower() for word in _LOGIN):
            tenant = f" --tenant {self.tenant}" if self.tenant else ""
            hint = (f"run az login{tenant} (in a pipeline: azure/login or an AzureCLI@2 task before b2ckeys); "
                    "the Azure CLI has no valid account for this tenant")
        else:
            hint = "check that az login was run for this tenant and cloud (az cloud show)"
        said = f": {shown}" if shown else " and said nothing on stderr"
        return f"{self.shown_command()} failed (exit {ran.code}): {hint}. az said{said}"


def _parse(stdout: bytes) -> tuple[str, float] | None:
    """(token, expiry in epoch seconds) from az's JSON answer; None when it is not one."""
    try:
        answer = json.loads(stdout.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(answer, dict):
        return None
    token = answer.get("accessToken")
    if not isinstance(token, str) or not token.strip() or any(c.isspace() for c in token.strip()):
        return None
    expires_on = answer.get("expires_on")
    if isinstance(expires_on, str) and expires_on.strip().isdigit():
        expires_on = int(expires_on)
    if isinstance(expires_on, (int, float)) and not isinstance(expires_on, bool) and 0 < expires_on < math.inf:
        return token.strip(), float(expires_on)
    local = answer.get("expiresOn")
    for form in ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S"):
        try:
            return token.strip(), _dt.datetime.strptime(str(local), form).timestamp()  # naive: local time
        except (ValueError, OverflowError, OSError):
            continue
    return None

"""The arguments of `b2ckeys emulator`: address, tenant, roles, latency, throttle, faults,
readings and Key Vaults. The emulator itself is imported only to check a fault spec, a reading
or a vault name."""

from __future__ import annotations

import argparse


def _fault_spec(text: str) -> dict:
    from ..emulator import parse_fault_spec  # lazily: the emulator is heavy, and --help must stay fast

    try:
        return parse_fault_spec(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _reading(text: str) -> str:
    if text.strip().lower() == "help":
        return "help"
    from ..emulator.readings import parse  # lazily: the emulator is heavy, and --help must stay fast

    try:
        parse(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"{e} (--reading help explains each)") from None
    return text.strip()


def _vault_name(text: str) -> str:
    from ..emulator import check_vault_name  # lazily: the emulator is heavy, and --help must stay fast

    try:
        return check_vault_name(text.strip())
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _number_at_least(low: float, kind=int, above: bool = False):
    def parse(text: str):
        try:
            value = kind(text)
            if value != value or value in (float("inf"), float("-inf")):
                raise ValueError(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if value < low or (above and value == low):
            raise argparse.ArgumentTypeError(f"must be {'above' if above else 'at least'} {low}")
        return value

    return parse


def add_emulator_command(sub) -> None:
    p = sub.add_parser(
        "emulator",
        help="run a local Graph + token service (+ Key Vault) emulator over HTTPS, for tests and trials",
        description="Serve a strict local emulator of Microsoft Graph trustFramework/keySets and of "
        "the token service (and, with --vault, Azure Key Vault), over HTTPS on loopback with a CA it "
        "generates. When ready it prints "
        "(and with --env-file writes) the environment that points b2ckeys at it.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="port to listen on (default 0: any free port)")
    p.add_argument("--env-file", metavar="FILE", help="write KEY=VALUE lines to FILE once ready")
    p.add_argument(
        "--tenant-domain",
        default="contoso.onmicrosoft.com",
        help="the emulated tenant's domain (default contoso.onmicrosoft.com)",
    )
    p.add_argument(
        "--page-size", type=int, default=2, help="key sets per page of the list answer (default 2)"
    )
    p.add_argument(
        "--roles",
        default="TrustFrameworkKeySet.ReadWrite.All",
        metavar="ROLE,...",
        help="the roles its access tokens carry (default TrustFrameworkKeySet.ReadWrite.All; "
        "TrustFrameworkKeySet.Read.All to try a read-only app)",
    )
    p.add_argument(
        "--latency-ms",
        type=_number_at_least(0, float),
        default=0.0,
        metavar="N",
        help="add N ms to every Graph and token request (default 0)",
    )
    p.add_argument(
        "--jitter-ms",
        type=_number_at_least(0, float),
        default=0.0,
        metavar="N",
        help="plus a uniform random 0..N ms, from a fixed seed (default 0)",
    )
    p.add_argument(
        "--throttle",
        action="store_true",
        help="throttle Graph requests as the real service does: 200 per minute per app, 300 "
        "per tenant, sliding window, 429 AADB2C95043 with Retry-After (implied by the next four)",
    )
    p.add_argument(
        "--throttle-app-rpm",
        type=_number_at_least(1),
        metavar="N",
        help="throttle: requests per minute per app (default 200)",
    )
    p.add_argument(
        "--throttle-tenant-rpm",
        type=_number_at_least(1),
        metavar="N",
        help="throttle: requests per minute for the tenant, all apps (default 300)",
    )
    p.add_argument(
        "--time-scale",
        type=_number_at_least(0, float, above=True),
        metavar="X",
        help="throttle: a minute lasts 60/X real seconds (default 1; 60 makes it one second), "
        "and Retry-After is given in real seconds, fractional when X is not 1",
    )
    p.add_argument(
        "--no-retry-after",
        action="store_true",
        help="throttle: answer 429 without a Retry-After header",
    )
    p.add_argument(
        "--fault",
        action="append",
        default=[],
        type=_fault_spec,
        metavar="SPEC",
        help="inject a fault; repeatable. SPEC is METHOD:PATH:EFFECT[:OPTION...]: METHOD an "
        "HTTP method or *; PATH a glob (* crosses /) or re:REGEX; EFFECT status=CODE, "
        "delay=SECONDS, reset, or commit_then_drop (the write happens, the answer is lost); "
        "OPTIONs code=TEXT, message=TEXT, retry_after=SECONDS, delay=SECONDS, times=N or * "
        "(default 1), p=PROBABILITY, seed=N. Example: "
        "POST:*/uploadSecret:status=400:code=AADB2C90063:times=2",
    )
    p.add_argument(
        "--client-certificate",
        action="append",
        metavar="FILE",
        help="register the certificate(s) of this PEM file on the app, for client assertions "
        "(AZURE_CLIENT_CERTIFICATE_PATH); may be repeated",
    )
    p.add_argument(
        "--federated-subject",
        metavar="SUBJECT",
        help="the subject the app's federated credential accepts "
        "(default repo:contoso/b2c-keys:ref:refs/heads/main)",
    )
    p.add_argument(
        "--vault",
        action="append",
        default=[],
        type=_vault_name,
        metavar="NAME",
        help="serve an emulated Azure Key Vault at https://127.0.0.1:PORT/vaults/NAME "
        "(repeatable); B2CKEYS_KEYVAULT_URL in the printed environment resolves vault names to it",
    )
    p.add_argument(
        "--reading",
        action="append",
        default=[],
        type=_reading,
        metavar="NAME",
        help="behave as one reading of what the real service does where that is not known "
        "(repeatable), e.g. not-found-404, read-lag=3, page-size=100; --reading help lists "
        "every reading with its meaning and source",
    )
    p.add_argument(
        "--readings-from",
        metavar="FILE",
        help="take the readings from FILE, as written by b2ckeys probe --out "
        '({"version": 1, "readings": [...]}); --reading adds to them and replaces one of '
        "the same name",
    )

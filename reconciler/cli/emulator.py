"""`b2ckeys emulator`: its command-line options, turned into the emulator's settings
(`reconciler.emulator.serve_forever`). The options themselves are in `parser_emulator`."""

from __future__ import annotations

from ..core.errors import ConfigError
from ..emulator import describe_readings, load_readings_file, merge_readings, serve_forever


def _readings(args) -> list[str]:
    """The file's readings (--readings-from), then --reading on top; ConfigError for a bad file."""
    from_file: list[str] = []
    if args.readings_from:
        try:
            from_file = load_readings_file(args.readings_from)
        except ValueError as e:
            raise ConfigError(str(e)) from None
    return merge_readings(from_file, args.reading)


def run(args, ctx) -> int:
    if "help" in args.reading:
        ctx.out(describe_readings())
        return 0
    readings = _readings(args)
    throttle = {
        key: value
        for key, value in (
            ("app_per_minute", args.throttle_app_rpm),
            ("tenant_per_minute", args.throttle_tenant_rpm),
            ("time_scale", args.time_scale),
            ("retry_after", False if args.no_retry_after else None),
        )
        if value is not None
    }
    on = args.throttle or bool(throttle)
    latency = {"fixed_ms": args.latency_ms, "jitter_ms": args.jitter_ms}
    subject = {"federated_subject": args.federated_subject} if args.federated_subject else {}
    try:
        return serve_forever(
            args.host,
            args.port,
            env_file=args.env_file,
            tenant_domain=args.tenant_domain,
            page_size=args.page_size,
            roles=[role for role in args.roles.split(",") if role],
            throttle=throttle if on else None,
            latency=latency if args.latency_ms or args.jitter_ms else None,
            faults=args.fault,
            client_certificates=args.client_certificate or [],
            readings=readings,
            vaults=args.vault,
            out=ctx.stdout,
            log_stream=ctx.stderr,
            **subject,
        )
    except ValueError as e:  # a --client-certificate file without a certificate; readings twice
        raise ConfigError(str(e)) from None

"""`b2ckeys force-unlock LOCK_ID`: release the tenant lease a killed or lost apply left."""

from __future__ import annotations

from ..core.errors import ApplyRefused
from ..graph.lease import force_unlock
from .context import EXIT_OK, Context


def run(args, ctx: Context) -> int:
    session = ctx.session()
    client = session.connect(None, command="force-unlock", write=True)
    if not args.force:
        if not (hasattr(ctx.stdin, "isatty") and ctx.stdin.isatty()):
            raise ApplyRefused("force-unlock needs confirmation and there is no terminal to ask on; nothing was "
                               "released. Rerun with --force once you are sure its holder is gone")
        ctx.stdout.write("Release the tenant lease? If its apply is still running, two applies may then write "
                         "at once. Only 'yes' is accepted: ")
        ctx.stdout.flush()
        if ctx.stdin.readline().strip() != "yes":
            raise ApplyRefused("force-unlock cancelled; nothing was released")
    released = force_unlock(client, args.lock_id)
    ctx.out(f"Released the tenant lease: {released.describe()}.")
    return EXIT_OK

"""A local, strict emulator of Microsoft Graph beta ``/trustFramework/keySets`` and of
the Entra ID token service, over HTTPS on loopback (see ``ASSUMPTIONS.md``).

    with Emulator() as emu:
        requests.get(emu.url + "/beta/trustFramework/keySets", verify=emu.ca_path, ...)

A separate layer: imports nothing from the rest of ``reconciler``.
"""

from .config import DEFAULT_FEDERATED_SUBJECT, DEFAULT_ROLES, READ_ROLE, WRITE_ROLE, Settings
from .faults import SPEC_HELP as FAULT_SPEC_HELP
from .faults import parse_fault_spec
from .foreground import serve_forever
from .keymodel import pick_active
from .pipeline import Context, Pipeline, Request, Response
from .readings import REGISTRY as READINGS
from .readings import describe as describe_readings
from .readings import load_readings_file, merge_readings
from .server import DEFAULT_TENANT_DOMAIN, Emulator
from .vaultroles import KNOWN_ROLES as VAULT_ROLES
from .vaultstore import check_vault_name

__all__ = ["Emulator", "serve_forever", "DEFAULT_FEDERATED_SUBJECT", "DEFAULT_ROLES",
           "DEFAULT_TENANT_DOMAIN", "READ_ROLE", "WRITE_ROLE", "Settings", "Context",
           "Pipeline", "Request", "Response", "pick_active", "parse_fault_spec",
           "FAULT_SPEC_HELP", "READINGS", "describe_readings", "load_readings_file",
           "merge_readings", "check_vault_name", "VAULT_ROLES"]

"""Our client for a test (`emulator_client`), and changes made to the emulator's tenant out of band, through Graph, as another tool or a
person would: the tenant moving under a saved plan, drift, keys b2ckeys did not add."""

from reconciler.graph.client import GraphClient
from reconciler.graph.settings import from_environment
from reconciler.graph.transport import Session
from reconciler.signin.auth import TokenProvider


def emulator_client(environ, **options) -> GraphClient:
    """Our Graph client, signed in as `environ` says (the emulator's), with `options` of GraphClient."""
    settings = from_environment(environ)
    return GraphClient(settings.graph_url, TokenProvider(settings, environ), verify=settings.verify, **options)


class Graph:
    """Out-of-band changes, made through Graph as another tool or a person would."""

    def __init__(self, emu):
        self.session = Session(verify=emu.ca_path)
        self.headers = {"Authorization": f"Bearer {emu.make_token()}"}
        self.base = emu.url + "/beta/trustFramework/keySets"

    def __call__(self, method, path="", body=None):
        response = self.session.request(method, self.base + path, json=body, headers=self.headers)
        response.raise_for_status()
        return response.json() if response.content else None

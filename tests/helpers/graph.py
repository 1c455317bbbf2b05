"""Changes made to the emulator's tenant out of band, through Graph, as another tool or a
person would: the tenant moving under a saved plan, drift, keys b2ckeys did not add."""

from reconciler.graph.transport import Session


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

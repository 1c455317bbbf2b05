"""The Graph verbs of the key lifecycle: certificate and PKCS#12 uploads, a key's
status (`keys_v2`), disabling a key. A mixin of `GraphClient` (which sends through
`_call`, with its retries, pacing and error types), kept apart so that each module
stays one size and one concern.
"""

from __future__ import annotations

from urllib.parse import quote

from ..core.errors import GraphError
from ..core.model import LiveKey
from .answers import read_key, read_key_status
from .redact import scrub_error


class LifecycleVerbs:
    """Mixed into `GraphClient`; `self._call(method, path, body=...)` is the client's."""

    def upload_certificate(self, keyset_id: str, *, certificate: str) -> LiveKey:
        """uploadCertificate `{"key": base64 of the DER certificate}`: a public certificate."""

        path = _path(keyset_id) + "/uploadCertificate"
        return read_key(self._call("POST", path, body={"key": certificate}), "POST", path)

    def upload_pkcs12(self, keyset_id: str, *, pfx: str, password: str) -> LiveKey:
        """uploadPkcs12 `{"key": base64 of the .pfx, "password": ...}`; neither ever in an error
        (both are in play for the request, `GraphClient._send`, and scrubbed again here)."""

        body = {"key": pfx, "password": password}
        path = _path(keyset_id) + "/uploadPkcs12"
        try:
            response = self._call("POST", path, body=body)
        except GraphError as e:
            raise scrub_error(e, (password, pfx)) from None
        return read_key(response, "POST", path)

    def key_status(self, keyset_id: str, kid: str) -> str | None:
        """`status` of one key from `GET …/keys_v2/{kid}` (the list answer may leave it out)."""
        path = _key_path(keyset_id, kid)
        return read_key_status(self._call("GET", path), path)

    def disable_key(self, keyset_id: str, kid: str) -> None:
        """`PATCH …/keys_v2/{kid}` `{"status": "disabled"}` (204)."""
        self._call("PATCH", _key_path(keyset_id, kid), body={"status": "disabled"})


def _path(keyset_id: str) -> str:
    return "/trustFramework/keySets/" + quote(keyset_id, safe="")


def _key_path(keyset_id: str, kid: str) -> str:
    return _path(keyset_id) + "/keys_v2/" + quote(kid, safe="")

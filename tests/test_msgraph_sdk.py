"""Microsoft's Graph beta SDK for Python (msgraph-beta-sdk, Kiota-generated), unchanged, against
the emulator: its own request builders, serializers, middleware and error mapping, a token from
the emulator's token endpoint through msal, and every field it parses checked against the type
its model declares. Skipped only when the SDK is not installed (it is in the `test` extra)."""

import asyncio
import base64
import datetime
import enum
import importlib
import re
import ssl
import time
import typing
from urllib.parse import urlsplit

import pytest

pytest.importorskip("msgraph_beta")

import httpx  # noqa: E402  (after the skip: these come with the SDK)
import msal  # noqa: E402
from kiota_abstractions.authentication import (  # noqa: E402
    AccessTokenProvider,
    AllowedHostsValidator,
    BaseBearerTokenAuthenticationProvider,
)
from kiota_abstractions.method import Method  # noqa: E402
from kiota_abstractions.request_information import RequestInformation  # noqa: E402
from kiota_abstractions.serialization import Parsable  # noqa: E402
from msgraph_beta import GraphRequestAdapter, GraphServiceClient  # noqa: E402
from msgraph_beta.generated.models.o_data_errors.o_data_error import ODataError  # noqa: E402
from msgraph_beta.generated.models.trust_framework_key import TrustFrameworkKey  # noqa: E402
from msgraph_beta.generated.models.trust_framework_key_set import TrustFrameworkKeySet  # noqa: E402
from msgraph_beta.generated.models.trust_framework_key_status import TrustFrameworkKeyStatus  # noqa: E402
from msgraph_beta.generated.models.trust_framework_key_v2 import TrustFrameworkKey_v2  # noqa: E402
from msgraph_beta.generated.trust_framework.key_sets.item.generate_key.generate_key_post_request_body import (  # noqa: E402,E501
    GenerateKeyPostRequestBody,
)
from msgraph_beta.generated.trust_framework.key_sets.item.upload_certificate.upload_certificate_post_request_body import (  # noqa: E402,E501
    UploadCertificatePostRequestBody,
)
from msgraph_beta.generated.trust_framework.key_sets.item.upload_pkcs12.upload_pkcs12_post_request_body import (  # noqa: E402,E501
    UploadPkcs12PostRequestBody,
)
from msgraph_beta.generated.trust_framework.key_sets.item.upload_secret.upload_secret_post_request_body import (  # noqa: E402,E501
    UploadSecretPostRequestBody,
)
from msgraph_core import APIVersion, GraphClientFactory, PageIterator  # noqa: E402

from helpers.certkit import DAY, PFX_PASSWORD, certificate, write, x5t  # noqa: E402
from reconciler.graph.transport import Session  # noqa: E402

NOW = int(time.time())
YEAR = 365 * DAY

# the generated request builders warn about their own deprecated configuration classes
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:(msgraph_beta|kiota_abstractions)")


# -- the SDK, pointed at the emulator ---------------------------------------------------

class EmulatorTokens(AccessTokenProvider):
    """Client-credentials tokens from the emulator's token endpoint through msal, as
    b2ckeys signs in (with its requests session: msal's own `verify=` loses to a
    REQUESTS_CA_BUNDLE in the environment); none for a host other than the emulator's."""

    def __init__(self, env):
        self.app = msal.ConfidentialClientApplication(
            env["AZURE_CLIENT_ID"], client_credential=env["AZURE_CLIENT_SECRET"],
            authority=f"{env['AZURE_AUTHORITY_HOST']}/{env['AZURE_TENANT_ID']}",
            instance_discovery=False, http_client=Session(verify=env["B2CKEYS_CA_BUNDLE"]))
        self.scopes = [f"{env['B2CKEYS_GRAPH_URL']}/.default"]
        self.hosts = AllowedHostsValidator([urlsplit(env["B2CKEYS_GRAPH_URL"]).hostname])

    async def get_authorization_token(self, uri, additional_authentication_context=None):
        if not uri.startswith("https://") or not self.hosts.is_url_host_valid(uri):
            return ""
        result = await asyncio.to_thread(self.app.acquire_token_for_client, scopes=self.scopes)
        assert "access_token" in result, result.get("error_description")
        return result["access_token"]

    def get_allowed_hosts_validator(self):
        return self.hosts


class Sdk:
    """A GraphServiceClient on the emulator's `/beta`, with the SDK's default middleware,
    an httpx client that trusts the emulator's CA, and the JSON of the last answer kept
    (through httpx's response hook) to compare with what the SDK parsed from it."""

    def __init__(self, env):
        self.raw = None
        http = httpx.AsyncClient(verify=ssl.create_default_context(cafile=env["B2CKEYS_CA_BUNDLE"]),
                                 event_hooks={"response": [self._keep]})
        http = GraphClientFactory.create_with_default_middleware(api_version=APIVersion.beta, client=http)
        self.http = http
        self.adapter = GraphRequestAdapter(BaseBearerTokenAuthenticationProvider(EmulatorTokens(env)), http)
        self.adapter.base_url = f"{env['B2CKEYS_GRAPH_URL']}/beta"
        self.client = GraphServiceClient(request_adapter=self.adapter)
        self.key_sets = self.client.trust_framework.key_sets

    async def _keep(self, response):
        await response.aread()
        self.raw = response.json() if response.content else None

    def key_set(self, keyset_id):
        return self.key_sets.by_trust_framework_key_set_id(keyset_id)

    async def set_status(self, keyset_id, kid, status):
        """PATCH keys_v2/{kid} {status}: documented, but this SDK generates no `patch` for it,
        so the request is built from the SDK's own item builder, model and serializer."""
        item = self.key_set(keyset_id).keys_v2.by_trust_framework_key_v2_kid(kid)
        request = RequestInformation(Method.PATCH, item.url_template, item.path_parameters)
        request.set_content_from_parsable(self.adapter, "application/json", TrustFrameworkKey_v2(status=status))
        await self.adapter.send_no_response_content_async(request, {"XXX": ODataError})


def run(env, scenario):
    async def main():
        sdk = Sdk(env)
        try:
            await scenario(sdk)
        finally:
            await sdk.http.aclose()

    asyncio.run(main())


# -- every parsed field as its model declares it ----------------------------------------

def _attribute(json_name: str) -> str:
    """The model attribute a JSON name is parsed into: `@odata.nextLink` -> `odata_next_link`."""
    return re.sub(r"(?<=[a-z])([A-Z])", r"_\1", json_name.lstrip("@").replace(".", "_").replace("-", "_")).lower()


class _ModelNames(dict):
    """Names for the models' annotations: the generated modules import the types of their
    fields only for type checkers, so each is found in its own module, named as Kiota names
    it (`TrustFrameworkKey_v2` in `trust_framework_key_v2`, `ODataError` in `o_data_error`)."""

    PACKAGES = ("msgraph_beta.generated.models", "msgraph_beta.generated.models.o_data_errors")

    def __missing__(self, name):
        module = re.sub(r"(?<=[A-Za-z0-9])(?=[A-Z][a-z])|(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()
        for package in self.PACKAGES:
            try:
                found = getattr(importlib.import_module(f"{package}.{module}"), name)
            except (ImportError, AttributeError):
                continue
            self[name] = found
            return found
        raise KeyError(name)  # then a global or builtin name: Optional, list, str, datetime


_MODEL_NAMES = _ModelNames()


def _declared(model_type) -> dict:
    return typing.get_type_hints(model_type, localns=_MODEL_NAMES)


def _unwrap(declared):
    if typing.get_origin(declared) is typing.Union:
        (declared,) = [arg for arg in typing.get_args(declared) if arg is not type(None)]
    return declared


def assert_parsed(model, raw, where="", *, strict=True):
    """Each field of the answer `raw` that the SDK parses is set on `model`, with the type the
    model declares and the value sent; with `strict`, the answer has no field the model lacks
    (OData annotations aside)."""
    fields = model.get_field_deserializers()
    declared = _declared(type(model))
    for name, sent in raw.items():
        here = f"{where}{type(model).__name__}.{name}"
        if name not in fields:
            assert not strict or name.startswith("@odata."), f"{here}: the model has no such field"
            continue
        assert_value(getattr(model, _attribute(name)), sent, _unwrap(declared[_attribute(name)]), here, strict)


def assert_value(got, sent, declared, where, strict):
    if sent is None:
        assert got is None, f"{where}: sent null, parsed {got!r}"
        return
    assert got is not None, f"{where}: sent {sent!r}, parsed None (declared {declared})"
    if typing.get_origin(declared) is list:
        (item,) = typing.get_args(declared)
        assert isinstance(got, list) and len(got) == len(sent), f"{where}: {got!r} for {sent!r}"
        for i, (one, one_sent) in enumerate(zip(got, sent)):
            assert_value(one, one_sent, _unwrap(item), f"{where}[{i}]", strict)
    elif isinstance(declared, type) and issubclass(declared, Parsable):
        assert isinstance(got, declared), f"{where}: {type(got).__name__}, declared {declared.__name__}"
        assert_parsed(got, sent, f"{where}.", strict=strict)
    elif isinstance(declared, type) and issubclass(declared, enum.Enum):
        assert isinstance(got, declared) and got.value == sent, f"{where}: {got!r} for {sent!r}"
    elif declared is datetime.datetime:
        assert isinstance(got, datetime.datetime), f"{where}: {got!r} for {sent!r}"
    else:
        assert type(got) is declared and got == sent, f"{where}: {got!r} ({type(got).__name__}) " \
                                                      f"for {sent!r}, declared {declared.__name__}"


async def answered(sdk, call):
    """Awaits an SDK call; checks what it parsed against the answer's JSON; returns it."""
    result = await call
    assert (result is None) == (sdk.raw is None), f"parsed {result!r} from {sdk.raw!r}"
    if sdk.raw is not None:
        assert_parsed(result, sdk.raw)
    return result


async def new_key_set(sdk, name):
    created = await answered(sdk, sdk.key_sets.post(TrustFrameworkKeySet(id=name)))
    assert isinstance(created, TrustFrameworkKeySet) and created.id == f"B2C_1A_{name}"
    assert created.keys == []
    return created.id


# -- the operations -------------------------------------------------------------------

def test_create_get_and_delete_a_key_set(env):
    async def scenario(sdk):
        keyset_id = await new_key_set(sdk, "SdkCreate")
        got = await answered(sdk, sdk.key_set(keyset_id).get())
        assert (got.id, got.keys) == (keyset_id, [])
        assert await sdk.key_set(keyset_id).delete() is None
        with pytest.raises(ODataError) as missing:
            await sdk.key_set(keyset_id).get()
        assert missing.value.response_status_code == 400
        assert missing.value.error.code == "AADB2C90073" and keyset_id in missing.value.error.message

    run(env, scenario)


def test_errors_are_the_sdks_odata_error_with_the_b2c_code(env):
    async def scenario(sdk):
        await new_key_set(sdk, "SdkTwice")
        with pytest.raises(ODataError) as twice:
            await sdk.key_sets.post(TrustFrameworkKeySet(id="SdkTwice"))
        error = twice.value
        assert error.response_status_code == 400
        assert error.error.code == "AADB2C95028" and "already exists" in error.error.message
        assert_parsed(error, sdk.raw, strict=False)
        assert isinstance(error.error.inner_error.request_id, str)
        assert isinstance(error.error.inner_error.date, datetime.datetime)

    run(env, scenario)


def test_upload_secret_answers_a_key_with_integer_times(env):
    async def scenario(sdk):
        keyset_id = await new_key_set(sdk, "SdkSecret")
        body = UploadSecretPostRequestBody(use="sig", k="not-a-real-secret", nbf=NOW - DAY, exp=NOW + YEAR)
        key = await answered(sdk, sdk.key_set(keyset_id).upload_secret.post(body))
        assert isinstance(key, TrustFrameworkKey)
        assert (key.use, key.kty.lower(), key.nbf, key.exp) == ("sig", "oct", NOW - DAY, NOW + YEAR)
        assert isinstance(key.kid, str) and key.kid and key.k is None

    run(env, scenario)


def test_generate_key_rsa_and_oct(env):
    async def scenario(sdk):
        rsa_id, oct_id = await new_key_set(sdk, "SdkRsa"), await new_key_set(sdk, "SdkOct")
        body = GenerateKeyPostRequestBody(use="sig", kty="RSA", nbf=NOW - DAY, exp=NOW + YEAR)
        rsa = await answered(sdk, sdk.key_set(rsa_id).generate_key.post(body))
        assert (rsa.kty, rsa.use, rsa.nbf, rsa.exp) == ("RSA", "sig", NOW - DAY, NOW + YEAR)
        assert rsa.e == "AQAB" and len(rsa.n) > 300 and rsa.d is None
        body = GenerateKeyPostRequestBody(use="enc", kty="oct", nbf=NOW, exp=NOW + YEAR)
        oct_key = await answered(sdk, sdk.key_set(oct_id).generate_key.post(body))
        assert (oct_key.kty, oct_key.use, oct_key.nbf) == ("oct", "enc", NOW) and oct_key.k is None

    run(env, scenario)


def test_upload_certificate_and_pkcs12(env, tmp_path):
    cert = certificate("sdk", nbf=NOW - DAY)
    cert_b64 = write(tmp_path / "c.b64", cert, "base64").read_text().replace("\n", "")
    pfx_b64 = base64.b64encode(write(tmp_path / "c.pfx", cert, "pfx").read_bytes()).decode()

    async def scenario(sdk):
        keyset_id = await new_key_set(sdk, "SdkCert")
        uploads = sdk.key_set(keyset_id)
        from_cert = await answered(sdk, uploads.upload_certificate.post(UploadCertificatePostRequestBody(key=cert_b64)))
        from_pfx = await answered(sdk, uploads.upload_pkcs12.post(
            UploadPkcs12PostRequestBody(key=pfx_b64, password=PFX_PASSWORD)))
        for key in (from_cert, from_pfx):
            assert (key.kty, key.use, key.nbf, key.exp) == ("RSA", "sig", NOW - DAY, NOW - DAY + YEAR)
        got = await answered(sdk, uploads.get())
        assert [k.kid for k in got.keys] == [from_cert.kid, from_pfx.kid]
        for key in got.keys:
            assert key.x5t == x5t(cert) and key.x5c == [cert_b64] and key.e == "AQAB"

    run(env, scenario)


def test_list_follows_next_links_as_the_sdk_does(env):
    names = [f"SdkPage{i}" for i in range(5)]

    async def scenario(sdk):
        for name in names:
            keyset_id = await new_key_set(sdk, name)
            body = UploadSecretPostRequestBody(use="enc", k=f"secret-{name}", nbf=NOW, exp=NOW + YEAR)
            await answered(sdk, sdk.key_set(keyset_id).upload_secret.post(body))
        pages, page = [], await answered(sdk, sdk.key_sets.get())
        first = page
        while True:
            pages.append([s.id for s in page.value])
            if not page.odata_next_link:
                break
            assert page.odata_next_link.startswith(sdk.adapter.base_url + "/")
            page = await answered(sdk, sdk.key_sets.with_url(page.odata_next_link).get())
        assert pages == [[f"B2C_1A_{n}" for n in names[i:i + 2]] for i in (0, 2, 4)]
        assert await sdk.key_sets.count.get() == len(names)

        seen = []
        iterator = PageIterator(first, sdk.adapter)
        await iterator.iterate(lambda keyset: seen.append((keyset.id, keyset.keys[0].nbf)) or True)
        assert seen == [(f"B2C_1A_{n}", NOW) for n in names]

    run(env, scenario)


def test_active_key_and_key_status_through_keys_v2(env):
    async def scenario(sdk):
        keyset_id = await new_key_set(sdk, "SdkActive")
        keyset = sdk.key_set(keyset_id)
        older = await answered(sdk, keyset.upload_secret.post(
            UploadSecretPostRequestBody(use="sig", k="older", nbf=NOW - 2 * DAY, exp=NOW + YEAR)))
        newer = await answered(sdk, keyset.upload_secret.post(
            UploadSecretPostRequestBody(use="sig", k="newer", nbf=NOW - DAY, exp=NOW + YEAR)))
        active = await answered(sdk, keyset.get_active_key.get())
        assert isinstance(active, TrustFrameworkKey) and active.kid == newer.kid and active.nbf == NOW - DAY

        listed = await answered(sdk, keyset.keys_v2.get())
        assert [(k.kid, k.status) for k in listed.value] == [
            (older.kid, TrustFrameworkKeyStatus.Enabled), (newer.kid, TrustFrameworkKeyStatus.Enabled)]
        one = await answered(sdk, keyset.keys_v2.by_trust_framework_key_v2_kid(newer.kid).get())
        assert isinstance(one, TrustFrameworkKey_v2) and one.status is TrustFrameworkKeyStatus.Enabled

        await sdk.set_status(keyset_id, newer.kid, TrustFrameworkKeyStatus.Disabled)
        one = await answered(sdk, keyset.keys_v2.by_trust_framework_key_v2_kid(newer.kid).get())
        assert one.status is TrustFrameworkKeyStatus.Disabled and one.nbf == NOW - DAY
        active = await answered(sdk, keyset.get_active_key.get())
        assert active.kid == older.kid

    run(env, scenario)

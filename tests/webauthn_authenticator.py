"""A WebAuthn authenticator in software, for the passkey tests.

`SoftAuthenticator` plays the browser and a platform authenticator together: it takes
the options the server sends (PublicKeyCredentialCreationOptionsJSON or
PublicKeyCredentialRequestOptionsJSON, as dicts) and returns what the browser's
`credential.toJSON()` would post back (RegistrationResponseJSON or
AuthenticationResponseJSON). Keys are ES256 (P-256) from `cryptography`, attestation
is "none", every credential is discoverable (stores the user handle), CBOR is
encoded with `cbor2`.

Layouts (WebAuthn §6.1, §6.5.4, §5.8.1):
- authenticatorData: sha256(rp id) | flags | signCount (4 bytes, big-endian)
  | attestedCredentialData on create only (aaguid | credential id length (2) |
  credential id | COSE key {1: 2, 3: -7, -1: 1, -2: x, -3: y})
- attestationObject: CBOR {"fmt": "none", "attStmt": {}, "authData": ...}
- assertion signature: ECDSA-SHA256 (DER) over authenticatorData | sha256(clientDataJSON)

What py_webauthn 3.0.1 makes of it (read in its source):
- sign counts: `verify_authentication_response` rejects a count that is not greater
  than the stored one, unless both are 0 (authenticators without a counter, such as
  synced passkeys, always report 0): `get(..., sign_count=0)` against a stored 0
  passes; against a stored count above 0 it fails. Registration checks no count.
- backup flags come back as `credential_device_type` ("single_device" without BE,
  "multi_device" with it) and `credential_backed_up` (BS). BS without BE raises
  `InvalidBackupFlags`, which is a `WebAuthnException` but neither
  `InvalidRegistrationResponse` nor `InvalidAuthenticationResponse` (nor is the
  `InvalidJSONStructure` raised for malformed JSON): catch `WebAuthnException`.
- `userHandle` is parsed but never checked, and it is not signed: a test may edit it
  in the returned dict to play a client that claims another user.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

import cbor2
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

UP, UV, BE, BS, AT = 0x01, 0x04, 0x08, 0x10, 0x40  # authenticator data flags
ES256 = -7  # COSE algorithm: ECDSA with SHA-256 on P-256


class AuthenticatorError(Exception):
    """The browser would reject the call (the message names the DOMException)."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def client_data(
    kind: Literal["webauthn.create", "webauthn.get"], challenge: str, origin: str
) -> bytes:
    """clientDataJSON as a browser serialises it; `challenge` is the options' base64url string."""
    collected = {"type": kind, "challenge": challenge, "origin": origin, "crossOrigin": False}
    return json.dumps(collected, separators=(",", ":")).encode()


@dataclass
class Credential:
    """A discoverable credential the authenticator holds."""

    id: str  # base64url, no padding
    private_key: ec.EllipticCurvePrivateKey
    rp_id: str
    user_handle: bytes
    sign_count: int = 0

    @property
    def raw_id(self) -> bytes:
        return b64url_decode(self.id)

    def cose_public_key(self) -> bytes:
        numbers = self.private_key.public_key().public_numbers()
        x, y = numbers.x.to_bytes(32, "big"), numbers.y.to_bytes(32, "big")
        return cbor2.dumps({1: 2, 3: ES256, -1: 1, -2: x, -3: y})  # kty EC2, crv P-256


class SoftAuthenticator:
    """A platform authenticator in software: ES256 (P-256) keys from `cryptography`,
    "none" attestation, discoverable credentials.

    `backup_eligible`/`backed_up` set the BE/BS flags of every response (`get` can
    override them per call); `aaguid` goes into the attested credential data.
    """

    def __init__(
        self, *, backup_eligible: bool = True, backed_up: bool = True, aaguid: bytes = bytes(16)
    ) -> None:
        if len(aaguid) != 16:
            raise ValueError("an AAGUID is 16 bytes")
        self.backup_eligible = backup_eligible
        self.backed_up = backed_up
        self.aaguid = aaguid
        self.credentials: list[Credential] = []  # oldest first

    def credential(self, credential_id: str) -> Credential:
        """The stored credential with this id (base64url)."""
        for stored in self.credentials:
            if stored.id == credential_id:
                return stored
        raise AuthenticatorError(f"NotAllowedError: no credential {credential_id}")

    def create(
        self,
        options: dict[str, Any],
        *,
        origin: str,
        user_verified: bool = True,
        rp_id: str | None = None,
    ) -> dict[str, Any]:
        """navigator.credentials.create(): a new credential, as RegistrationResponseJSON.

        `rp_id` replaces the options' RP id in the rpIdHash (and is the RP the credential
        is stored for), to play an authenticator answering for another RP. Without an RP
        id in the options, the origin's host is the RP id, as in a browser.
        """
        algs = [param["alg"] for param in options.get("pubKeyCredParams", [])]
        if algs and ES256 not in algs:
            raise AuthenticatorError(f"NotSupportedError: no ES256 among {algs}")
        rp_id = rp_id or options["rp"].get("id") or _host(origin)
        excluded = {cred["id"] for cred in options.get("excludeCredentials", [])}
        if any(c.id in excluded and c.rp_id == rp_id for c in self.credentials):
            raise AuthenticatorError("InvalidStateError: a credential here is excluded")

        credential = Credential(
            id=b64url(secrets.token_bytes(32)),
            private_key=ec.generate_private_key(ec.SECP256R1()),
            rp_id=rp_id,
            user_handle=b64url_decode(options["user"]["id"]),
        )
        self.credentials.append(credential)

        raw_id = credential.raw_id
        attested = self.aaguid + len(raw_id).to_bytes(2, "big") + raw_id
        auth_data = (
            _authenticator_data(rp_id, self._flags(user_verified) | AT, credential.sign_count)
            + attested
            + credential.cose_public_key()
        )
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        spki = credential.private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return {
            "id": credential.id,
            "rawId": credential.id,
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(
                    client_data("webauthn.create", options["challenge"], origin)
                ),
                "attestationObject": b64url(attestation),
                "transports": ["internal", "hybrid"],
                # what browsers' toJSON() adds (py_webauthn ignores these three)
                "authenticatorData": b64url(auth_data),
                "publicKey": b64url(spki),
                "publicKeyAlgorithm": ES256,
            },
            "clientExtensionResults": {},
            "authenticatorAttachment": "platform",
        }

    def get(
        self,
        options: dict[str, Any],
        *,
        origin: str,
        user_verified: bool = True,
        rp_id: str | None = None,
        credential_id: str | None = None,
        sign_count: int | None = None,
        backup_eligible: bool | None = None,
        backed_up: bool | None = None,
    ) -> dict[str, Any]:
        """navigator.credentials.get(): an assertion, as AuthenticationResponseJSON.

        The credential: the one named by `credential_id` (whatever its RP and the
        allow list: a test playing a misbehaving client), else the most recent one for
        the options' RP id that is in `allowCredentials` (any of the RP's when the list
        is empty or absent: discoverable). Its sign count goes up by one, or becomes
        `sign_count` when given. `rp_id` replaces the RP id in the rpIdHash only.
        """
        options_rp_id = options.get("rpId") or _host(origin)
        if credential_id is not None:
            credential = self.credential(credential_id)
        else:
            allowed = {cred["id"] for cred in options.get("allowCredentials") or []}
            candidates = [
                c
                for c in self.credentials
                if c.rp_id == options_rp_id and (not allowed or c.id in allowed)
            ]
            if not candidates:
                raise AuthenticatorError(f"NotAllowedError: no credential for {options_rp_id}")
            credential = candidates[-1]

        credential.sign_count = credential.sign_count + 1 if sign_count is None else sign_count
        flags = self._flags(user_verified, backup_eligible, backed_up)
        auth_data = _authenticator_data(rp_id or options_rp_id, flags, credential.sign_count)
        client_data_json = client_data("webauthn.get", options["challenge"], origin)
        signature = credential.private_key.sign(
            auth_data + hashlib.sha256(client_data_json).digest(), ec.ECDSA(hashes.SHA256())
        )
        return {
            "id": credential.id,
            "rawId": credential.id,
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(client_data_json),
                "authenticatorData": b64url(auth_data),
                "signature": b64url(signature),
                "userHandle": b64url(credential.user_handle),
            },
            "clientExtensionResults": {},
            "authenticatorAttachment": "platform",
        }

    def _flags(
        self,
        user_verified: bool,
        backup_eligible: bool | None = None,
        backed_up: bool | None = None,
    ) -> int:
        eligible = self.backup_eligible if backup_eligible is None else backup_eligible
        backed = self.backed_up if backed_up is None else backed_up
        return UP | (UV if user_verified else 0) | (BE if eligible else 0) | (BS if backed else 0)


def _authenticator_data(rp_id: str, flags: int, sign_count: int) -> bytes:
    rp_id_hash = hashlib.sha256(rp_id.encode()).digest()
    return rp_id_hash + bytes([flags]) + sign_count.to_bytes(4, "big")


def _host(origin: str) -> str:
    host = urlsplit(origin).hostname
    if not host:
        raise AuthenticatorError(f"SecurityError: no host in origin {origin!r}")
    return host

"""The software authenticator (tests/webauthn_authenticator.py) against py_webauthn: what
it makes verifies, and the faults the server's passkey tests rely on are detected."""

from __future__ import annotations

import json
from typing import Any

import pytest
import webauthn
from webauthn.authentication.verify_authentication_response import VerifiedAuthentication
from webauthn.helpers.exceptions import (
    InvalidAuthenticationResponse,
    InvalidBackupFlags,
    InvalidRegistrationResponse,
)
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    CredentialDeviceType,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)
from webauthn.registration.verify_registration_response import VerifiedRegistration

from tests.webauthn_authenticator import (
    AuthenticatorError,
    SoftAuthenticator,
    b64url,
    b64url_decode,
)

RP_ID = "auth.example.test"
ORIGIN = "https://auth.example.test"
REQUIRED = UserVerificationRequirement.REQUIRED


def registration_options(user_id: bytes = b"user-1") -> dict[str, Any]:
    options = webauthn.generate_registration_options(
        rp_id=RP_ID,
        rp_name="authapi",
        user_name="ada@example.test",
        user_id=user_id,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED, user_verification=REQUIRED
        ),
    )
    return dict(json.loads(webauthn.options_to_json(options)))


def authentication_options(allow: list[str] | None = None) -> dict[str, Any]:
    options = webauthn.generate_authentication_options(
        rp_id=RP_ID,
        allow_credentials=[PublicKeyCredentialDescriptor(id=b64url_decode(c)) for c in allow or []],
        user_verification=REQUIRED,
    )
    return dict(json.loads(webauthn.options_to_json(options)))


def verify_registration(response: dict[str, Any], options: dict[str, Any]) -> VerifiedRegistration:
    return webauthn.verify_registration_response(
        credential=response,
        expected_challenge=b64url_decode(options["challenge"]),
        expected_rp_id=RP_ID,
        expected_origin=ORIGIN,
        require_user_verification=True,
    )


def verify_authentication(
    response: dict[str, Any], options: dict[str, Any], public_key: bytes, current_count: int
) -> VerifiedAuthentication:
    return webauthn.verify_authentication_response(
        credential=response,
        expected_challenge=b64url_decode(options["challenge"]),
        expected_rp_id=RP_ID,
        expected_origin=ORIGIN,
        credential_public_key=public_key,
        credential_current_sign_count=current_count,
        require_user_verification=True,
    )


def register(authenticator: SoftAuthenticator, user_id: bytes = b"user-1") -> tuple[str, bytes]:
    """A verified registration: the credential id and its COSE public key."""
    options = registration_options(user_id)
    verified = verify_registration(authenticator.create(options, origin=ORIGIN), options)
    return b64url(verified.credential_id), verified.credential_public_key


def test_registration_verifies() -> None:
    authenticator = SoftAuthenticator()
    options = registration_options()
    response = authenticator.create(options, origin=ORIGIN)

    verified = verify_registration(response, options)

    (stored,) = authenticator.credentials
    assert response["id"] == response["rawId"] == stored.id == b64url(verified.credential_id)
    assert verified.credential_public_key == stored.cose_public_key()
    assert (verified.sign_count, verified.user_verified, verified.fmt) == (0, True, "none")
    assert verified.aaguid == "00000000-0000-0000-0000-000000000000"
    assert verified.credential_device_type == CredentialDeviceType.MULTI_DEVICE
    assert verified.credential_backed_up is True
    assert (stored.rp_id, stored.user_handle) == (RP_ID, b"user-1")
    assert json.loads(b64url_decode(response["response"]["clientDataJSON"])) == {
        "type": "webauthn.create",
        "challenge": options["challenge"],
        "origin": ORIGIN,
        "crossOrigin": False,
    }


@pytest.mark.parametrize(
    ("eligible", "backed_up", "device_type"),
    [
        (True, False, CredentialDeviceType.MULTI_DEVICE),
        (False, False, CredentialDeviceType.SINGLE_DEVICE),
    ],
)
def test_backup_flags(eligible: bool, backed_up: bool, device_type: CredentialDeviceType) -> None:
    authenticator = SoftAuthenticator(backup_eligible=eligible, backed_up=backed_up)
    options = registration_options()
    verified = verify_registration(authenticator.create(options, origin=ORIGIN), options)
    assert (verified.credential_device_type, verified.credential_backed_up) == (
        device_type,
        backed_up,
    )
    # BS without BE is impossible: py_webauthn raises its own exception class for it
    with pytest.raises(InvalidBackupFlags):
        verify_registration(
            SoftAuthenticator(backup_eligible=False).create(options, origin=ORIGIN), options
        )


def test_authentication_verifies_and_counts() -> None:
    authenticator = SoftAuthenticator()
    credential_id, public_key = register(authenticator)

    for expected_count in (1, 2):
        options = authentication_options(allow=[credential_id])
        response = authenticator.get(options, origin=ORIGIN, backed_up=False)
        verified = verify_authentication(response, options, public_key, expected_count - 1)
        assert (verified.new_sign_count, verified.user_verified) == (expected_count, True)
        assert b64url(verified.credential_id) == credential_id
        assert verified.credential_backed_up is False  # the per-call override
        assert b64url_decode(response["response"]["userHandle"]) == b"user-1"


def test_discoverable_picks_most_recent_or_named() -> None:
    authenticator = SoftAuthenticator()
    first_id, _ = register(authenticator, b"user-1")
    second_id, _ = register(authenticator, b"user-2")

    options = authentication_options()
    assert options["allowCredentials"] == []
    assert authenticator.get(options, origin=ORIGIN)["id"] == second_id
    named = authenticator.get(options, origin=ORIGIN, credential_id=first_id)
    assert (named["id"], b64url_decode(named["response"]["userHandle"])) == (first_id, b"user-1")
    assert authenticator.get(authentication_options(allow=[first_id]), origin=ORIGIN)["id"] == (
        first_id
    )
    with pytest.raises(AuthenticatorError, match="NotAllowedError"):
        SoftAuthenticator().get(options, origin=ORIGIN)


# a fault of the client or authenticator, and what py_webauthn's error message says then
FAULTS: dict[str, tuple[dict[str, Any], str]] = {
    "wrong origin": ({"origin": "https://evil.example.test"}, "origin"),
    "wrong rp id": ({"rp_id": "evil.example.test"}, "RP ID hash"),
    "user not verified": ({"user_verified": False}, "User verification is required"),
}


@pytest.mark.parametrize(("fault", "message"), FAULTS.values(), ids=FAULTS.keys())
def test_registration_faults_rejected(fault: dict[str, Any], message: str) -> None:
    options = registration_options()
    response = SoftAuthenticator().create(options, **{"origin": ORIGIN, **fault})
    with pytest.raises(InvalidRegistrationResponse, match=message):
        verify_registration(response, options)


@pytest.mark.parametrize(("fault", "message"), FAULTS.values(), ids=FAULTS.keys())
def test_authentication_faults_rejected(fault: dict[str, Any], message: str) -> None:
    authenticator = SoftAuthenticator()
    credential_id, public_key = register(authenticator)
    options = authentication_options(allow=[credential_id])
    response = authenticator.get(options, **{"origin": ORIGIN, **fault})
    with pytest.raises(InvalidAuthenticationResponse, match=message):
        verify_authentication(response, options, public_key, 0)


@pytest.mark.parametrize(
    ("current", "reported", "accepted"),
    [
        (0, 0, True),  # no counter (synced passkeys): py_webauthn lets 0 after 0 pass
        (5, 6, True),
        (5, 5, False),
        (5, 4, False),
        (5, 0, False),  # a counter that went back to 0 is rejected too
    ],
)
def test_sign_count(current: int, reported: int, accepted: bool) -> None:
    authenticator = SoftAuthenticator()
    credential_id, public_key = register(authenticator)
    options = authentication_options(allow=[credential_id])
    response = authenticator.get(options, origin=ORIGIN, sign_count=reported)
    assert authenticator.credential(credential_id).sign_count == reported

    if accepted:
        verify_authentication(response, options, public_key, current)
    else:
        with pytest.raises(InvalidAuthenticationResponse, match="sign count"):
            verify_authentication(response, options, public_key, current)


def test_excluded_credential_and_wrong_challenge() -> None:
    authenticator = SoftAuthenticator()
    credential_id, public_key = register(authenticator)

    options = registration_options()
    options["excludeCredentials"] = [{"id": credential_id, "type": "public-key"}]
    with pytest.raises(AuthenticatorError, match="InvalidStateError"):
        authenticator.create(options, origin=ORIGIN)

    # an assertion made for one challenge does not verify against another
    response = authenticator.get(authentication_options(), origin=ORIGIN)
    with pytest.raises(InvalidAuthenticationResponse, match="challenge"):
        verify_authentication(response, authentication_options(), public_key, 0)

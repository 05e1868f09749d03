"""Client secrets the service signs itself: Sign in with Apple wants, instead of a fixed
secret, an ES256 JWT from the team's private key (`iss` the team id, `sub` the client
id, `aud` Apple, `kid` the key's id), valid for at most six months.

Each one here lives an hour and a new one is signed five minutes before it expires,
so a secret that leaks (it never reaches a log) is of little use for long, and the
key itself never leaves the process.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_private_key

if TYPE_CHECKING:  # settings checks keys with this module's help
    from authapi.settings import SignedClientSecret

LIFETIME_SECONDS = 3600
RENEW_BEFORE_SECONDS = 300


def ec_p256_key_problem(pem: str) -> str | None:
    """What is wrong with `pem` as an EC P-256 private key (None: nothing)."""
    try:
        key = load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError):
        return "not a PEM private key (paste the whole .p8 file, BEGIN and END lines too)"
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        return "not an EC P-256 key (Apple's keys for Sign in with Apple are)"
    return None


class ClientSecretSigner:
    """The current client secret for one client: `signer()` signs a new one only when
    the last is within RENEW_BEFORE_SECONDS of its end."""

    def __init__(
        self,
        config: SignedClientSecret,
        *,
        client_id: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._config = config
        self._client_id = client_id
        self._clock = clock
        self._key = load_pem_private_key(config.private_key.get_secret_value().encode(), None)
        self._current: tuple[str, float] | None = None  # (secret, expires at)

    def __call__(self) -> str:
        now = self._clock()
        if self._current is not None and self._current[1] - now > RENEW_BEFORE_SECONDS:
            return self._current[0]
        issued = int(now)
        secret = jwt.encode(
            {
                "iss": self._config.team_id,
                "iat": issued,
                "exp": issued + LIFETIME_SECONDS,
                "aud": self._config.audience,
                "sub": self._client_id,
            },
            self._key,  # type: ignore[arg-type]
            algorithm="ES256",
            headers={"kid": self._config.key_id},
        )
        self._current = (secret, issued + LIFETIME_SECONDS)
        return secret

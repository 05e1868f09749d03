"""The ceiling: one bare FastAPI GET route, served like `authapi serve` serves authapi.

And the reference the hot paths are held to: `GET /verify`, a route that checks an
ES256 JWT (PyJWT, the signature, `exp` and `aud`) on every request, with no cache,
as a resource server that verifies tokens itself would. `GET /token` hands out a
token its key signed, for the load generator.

And `POST /rotate`, the parts a refresh cannot do without and nothing else: a JSON
body read through a pydantic model, one Lua script on one Redis hash through redis-py
(with authapi's client options, hiredis included), a new ES256 access token signed
with PyJWT (authapi's claims and header), a JSON answer. What authapi's refresh
costs above it is authapi's own work (checks, metrics, logs, errors, headers).
Redis is at BARE_REDIS_URL, its keys under BARE_REDIS_PREFIX (set by bench/run.py).

Same uvicorn settings as authapi's CLI (`authapi.cli.cmd_serve`): same worker
count, loop and HTTP implementation left on "auto" (uvloop + httptools when
installed), no proxy headers, no server header, the same log level. Run as
`python bench/bare_app.py --port P --workers N`.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import os
import secrets
import time
import uuid
from pathlib import Path
from typing import Annotated

import jwt
import uvicorn
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI, Header, HTTPException
from pydantic import BaseModel
from redis.asyncio import Redis

from authapi.store.redis import connection_options

# authapi's import (for its client options) made this process's heap several times a
# bare app's: leave those objects out of the cyclic collector's full passes, which
# otherwise paused the routes for 30 to 60 ms now and then
gc.freeze()

app = FastAPI()
# the same key in every worker (a token one worker signs, another checks): a fixed
# scalar, fine for a benchmark's throwaway tokens, never for anything else
KEY = ec.derive_private_key(0x5EC12E7_BE7C4, ec.SECP256R1())
PUBLIC_KEY = KEY.public_key()
AUDIENCE = "bench"


@app.get("/ping")
async def ping() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/token")
async def token() -> dict[str, str]:
    now = int(time.time())
    claims = {"sub": "bench", "aud": AUDIENCE, "iat": now, "exp": now + 3600}
    return {"access_token": jwt.encode(claims, KEY, algorithm="ES256")}


@app.get("/verify")
async def verify(authorization: Annotated[str, Header()]) -> dict[str, str]:
    _, _, credentials = authorization.partition(" ")
    try:
        claims = jwt.decode(credentials, PUBLIC_KEY, algorithms=["ES256"], audience=AUDIENCE)
    except jwt.InvalidTokenError:
        raise HTTPException(status_code=401) from None
    return {"sub": claims["sub"]}


REDIS_PREFIX = os.environ.get("BARE_REDIS_PREFIX", "bare")
REDIS = Redis.from_url(
    os.environ.get("BARE_REDIS_URL", "redis://127.0.0.1:6379/0"),
    decode_responses=True,
    health_check_interval=30,
    **connection_options(REDIS_PREFIX),
)
# a rotation's shape: read the current hash, store its successor, one key
ROTATE = REDIS.register_script(
    "local current = redis.call('HGET', KEYS[1], 'cur') "
    "redis.call('HSET', KEYS[1], 'cur', ARGV[1], 'prev', current or '') "
    "redis.call('PEXPIRE', KEYS[1], ARGV[2]) "
    "return current"
)


class RotateRequest(BaseModel):
    refresh_token: str


@app.post("/rotate")
async def rotate(body: RotateRequest) -> dict[str, str | int]:
    session_id, _, _ = body.refresh_token.partition(".")
    successor = f"{session_id}.{secrets.token_urlsafe(32)}"
    await ROTATE(
        keys=[f"{REDIS_PREFIX}:session:{{{session_id}}}"],
        args=[hashlib.sha256(successor.encode()).hexdigest(), 2_592_000_000],
    )
    now = int(time.time())
    claims = {
        "iss": "http://127.0.0.1",
        "aud": AUDIENCE,
        "sub": str(uuid.uuid4()),
        "client_id": "bench",
        "exp": now + 900,
        "iat": now,
        "nbf": now,
        "jti": uuid.uuid4().hex,
        "sid": session_id,
    }
    access = jwt.encode(claims, KEY, algorithm="ES256", headers={"kid": "k", "typ": "at+jwt"})
    return {
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": 900,
        "refresh_token": successor,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args()
    uvicorn.run(
        "bare_app:app",
        app_dir=str(Path(__file__).parent),
        host=args.host,
        port=args.port,
        workers=args.workers,
        proxy_headers=False,
        server_header=False,
        log_level=args.log_level,
        timeout_graceful_shutdown=10,
    )


if __name__ == "__main__":
    main()

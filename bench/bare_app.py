"""The ceiling: one bare FastAPI GET route, served like `authapi serve` serves authapi.

And the reference the hot paths are held to: `GET /verify`, a route that checks an
ES256 JWT (PyJWT, the signature, `exp` and `aud`) on every request, with no cache,
as a resource server that verifies tokens itself would. `GET /token` hands out a
token its key signed, for the load generator.

Same uvicorn settings as authapi's CLI (`authapi.cli.cmd_serve`): same worker
count, loop and HTTP implementation left on "auto" (uvloop + httptools when
installed), no proxy headers, no server header, the same log level. Run as
`python bench/bare_app.py --port P --workers N`.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Annotated

import jwt
import uvicorn
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI, Header, HTTPException

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

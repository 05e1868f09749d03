"""`make image-test`: build the production image (the repo's Dockerfile, unchanged) and
check it end to end against real PostgreSQL and Redis.

Run with the project venv's python, as root (it installs what it needs with apt-get):

    .venv/bin/python deploy/image_test.py

What it does, in order:

1. Tools: installs Debian's `docker.io` (dockerd) and `debootstrap` when missing, starts
   `dockerd` in the background when no daemon answers (log: /tmp/authapi-dockerd.log; it
   is left running for the next run), and picks a docker client that talks to it (the
   one on PATH, else Debian's /usr/bin/docker).
2. The base image. THE `python:3.11-slim` USED HERE IS A STAND-IN for Docker Hub's
   python:3.11-slim, which cannot be pulled on this machine (Docker Hub is unreachable):
   a Debian bookworm `debootstrap --variant=minbase` root with Debian's Python 3.11, pip
   and venv, the host's CA bundle (pip's TLS goes through a CA only that bundle trusts)
   and PIP_BREAK_SYSTEM_PACKAGES=1, imported with `docker import`. It is built only when
   the image is missing; the root file system is cached in build/image-test/rootfs.
3. `docker build --network host -t authapi:test .` with the classic builder
   (DOCKER_BUILDKIT=0: Debian's dockerd 20.10 has no buildx here, and BuildKit would
   fetch the `# syntax=` frontend from Docker Hub; the classic builder reads that line
   as a comment).
4. Checks of the image: no compiler on PATH, no test files in the installed package,
   the configured user is not root, and its size.
5. A database (`authapi_image_<random>`) and a Redis key prefix (`authapi-image-<random>`)
   of its own; `authapi migrate`, then `authapi serve` in a container on the host's
   network with a production configuration (PostgreSQL, Redis, AUTHAPI_ENCRYPTION_KEYS,
   AUTHAPI_PUBLIC_URL, verified email required, default bcrypt cost); waits for Docker
   to call it `healthy`, then registers, verifies the address from the outbox, signs in,
   reads /users/me, and checks that the serving process is not root.
6. Always: removes the container, drops the database, deletes the prefix's Redis keys,
   prints one PASS/FAIL line per check and exits 1 if any failed.

Settings (environment): AUTHAPI_TEST_POSTGRES_DSN (default
postgresql://postgres@127.0.0.1:5432/postgres), AUTHAPI_TEST_REDIS_URL (default
redis://127.0.0.1:6379/0), IMAGE_TEST_HEALTH_TIMEOUT (seconds, default 120).
"""

# It runs the commands it names (docker, apt-get, debootstrap, tar) by design:
# ruff: noqa: S603, S607

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, NoReturn

import asyncpg  # type: ignore[import-untyped]
import redis
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "build" / "image-test"
ROOTFS = WORK / "rootfs"
ROOTFS_DONE = WORK / "rootfs.done"  # debootstrap finished (a half-made root is redone)
# under /tmp, not build/: build/ is in the image's build context (no .dockerignore entry)
DOCKERD_LOG = Path("/tmp/authapi-dockerd.log")  # noqa: S108
DOCKER_SOCKET = Path("/var/run/docker.sock")
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")

BASE_IMAGE = "python:3.11-slim"
STAND_IN_COMMENT = "stand-in for python:3.11-slim of Docker Hub: debootstrap bookworm minbase"
IMAGE = "authapi:test"
DEBOOTSTRAP_PACKAGES = "python3,python3-pip,python3-venv,python-is-python3,ca-certificates"
COMPILERS = ("gcc", "cc", "x86_64-linux-gnu-gcc")

POSTGRES_ADMIN_DSN = os.environ.get(
    "AUTHAPI_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("AUTHAPI_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
HEALTH_TIMEOUT = float(os.environ.get("IMAGE_TEST_HEALTH_TIMEOUT", "120"))

EMAIL = "image-test@example.com"
PASSWORD = "correct horse battery staple"  # noqa: S105 (a test account's)


class CheckFailed(Exception):
    pass


# --- output ----------------------------------------------------------------------------
RESULTS: list[tuple[str, bool, str]] = []


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


def record(name: str, passed: bool, detail: str = "") -> None:
    RESULTS.append((name, passed, detail))
    print(
        f"--- {'PASS' if passed else 'FAIL'}: {name}{f' ({detail})' if detail else ''}", flush=True
    )


@contextmanager
def check(name: str) -> Iterator[list[str]]:
    """Record `name` as PASS when the block ends normally (the block may append a detail),
    FAIL with the reason when it raises CheckFailed; other errors also fail and propagate."""
    details: list[str] = []
    try:
        yield details
    except CheckFailed as exc:
        record(name, False, str(exc))
        raise
    except BaseException as exc:
        record(name, False, f"{type(exc).__name__}: {exc}")
        raise
    record(name, True, "; ".join(details))


def fail(message: str) -> NoReturn:
    raise CheckFailed(message)


def run(
    command: list[str],
    *,
    capture: bool = False,
    env: dict[str, str] | None = None,
    stdin: Any = None,
    shown: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a command, echoing it (arguments in `shown` as their stand-ins; the environment,
    which holds the secrets, never), and fail when it does."""
    echoed = [(shown or {}).get(argument, shlex.quote(argument)) for argument in command]
    print(f"$ {' '.join(echoed)}", flush=True)
    result = subprocess.run(
        command,
        text=True,
        stdin=stdin,
        stdout=subprocess.PIPE if capture else None,
        stderr=subprocess.STDOUT if capture else None,
        env=env,
    )
    if result.returncode != 0:
        output = f":\n{result.stdout}" if capture and result.stdout else ""
        fail(f"`{shlex.join(command[:3])} …` exited with {result.returncode}{output}")
    return result


def quiet(
    command: list[str], env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, text=True, capture_output=True, env=env)


# --- 1. tools and the daemon -----------------------------------------------------------
def apt_install(packages: list[str]) -> None:
    if os.geteuid() != 0:
        names = " ".join(packages)
        fail(f"needs {names}: run as root, or `sudo apt-get install {names}` first")
    run(["apt-get", "update", "-q"])
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages], env=environment)


def daemon_answers() -> bool:
    """GET /_ping on the daemon's socket, without relying on any client."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
            connection.settimeout(3)
            connection.connect(str(DOCKER_SOCKET))
            connection.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            return connection.recv(64).split(b"\r\n", 1)[0].endswith(b" 200 OK")
    except OSError:
        return False


def start_dockerd() -> None:
    say(f"no Docker daemon answers: starting dockerd (log: {DOCKERD_LOG})")
    log = DOCKERD_LOG.open("ab")
    process = subprocess.Popen(
        ["dockerd"], stdout=log, stderr=subprocess.STDOUT, cwd="/", start_new_session=True
    )
    deadline = time.monotonic() + 60
    while not daemon_answers():
        if process.poll() is not None or time.monotonic() > deadline:
            tail = DOCKERD_LOG.read_text(errors="replace").splitlines()[-20:]
            fail("dockerd did not come up:\n" + "\n".join(tail))
        time.sleep(0.5)
    say(f"dockerd is up (pid {process.pid}; left running for the next run)")


def pick_docker_client() -> str:
    """The docker on PATH (a newer CLI) if it talks to this daemon, else Debian's."""
    candidates = [path for path in (shutil.which("docker"), "/usr/bin/docker") if path]
    for client in dict.fromkeys(candidates):
        result = quiet(
            [client, "version", "--format", "{{.Client.Version}} -> {{.Server.Version}}"]
        )
        if result.returncode == 0:
            say(f"docker client {client}: {result.stdout.strip()} (client -> daemon)")
            return client
        problem = (result.stdout + result.stderr).strip()
        print(f"    {client} cannot talk to the daemon: {problem}")
    fail(f"no docker client talks to the daemon (tried {', '.join(candidates)})")


def prepare_docker() -> str:
    missing = [
        package
        for command, package in (("dockerd", "docker.io"), ("debootstrap", "debootstrap"))
        if shutil.which(command) is None
    ]
    if missing:
        apt_install(missing)
    if not os.environ.get("DOCKER_HOST") and not daemon_answers():
        start_dockerd()
    return pick_docker_client()


# --- 2. the stand-in base image --------------------------------------------------------
def ensure_base_image(docker: str) -> None:
    present = quiet([docker, "image", "inspect", "--format", "{{.Comment}}", BASE_IMAGE])
    if present.returncode == 0:
        what = "the stand-in" if "stand-in" in present.stdout else "not the stand-in: used as is"
        say(f"{BASE_IMAGE} is present ({what}); not rebuilt")
        return
    if not ROOTFS_DONE.exists():
        say("debootstrap of the stand-in base (a few minutes; cached for later runs)")
        # an interrupted debootstrap may leave /proc, /sys or /dev mounted in there
        mounted = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
        inside = [point for point in mounted if point.startswith(f"{ROOTFS}/")]
        if inside:
            fail(f"unmount these first (an interrupted debootstrap's): {' '.join(inside)}")
        shutil.rmtree(ROOTFS, ignore_errors=True)
        ROOTFS.mkdir(parents=True)
        run(
            [
                "debootstrap",
                "--variant=minbase",
                f"--include={DEBOOTSTRAP_PACKAGES}",
                "bookworm",
                str(ROOTFS),
            ]
        )
        ROOTFS_DONE.touch()
    else:
        say(f"reusing the cached root file system {ROOTFS}")
    # pip in the image reaches PyPI through a CA that only the host's bundle trusts
    shutil.copyfile(HOST_CA_BUNDLE, ROOTFS / HOST_CA_BUNDLE.relative_to("/"))
    say(f"importing {ROOTFS} as {BASE_IMAGE}")
    with subprocess.Popen(["tar", "-C", str(ROOTFS), "-c", "."], stdout=subprocess.PIPE) as tar:
        assert tar.stdout is not None
        try:
            change = ["-c", "ENV PIP_BREAK_SYSTEM_PACKAGES=1", "-m", STAND_IN_COMMENT]
            run([docker, "import", *change, "-", BASE_IMAGE], stdin=tar.stdout)
        finally:
            tar.stdout.close()
    if tar.returncode != 0:
        fail(f"tar of {ROOTFS} exited with {tar.returncode}")


def warn_if_build_dir_in_context() -> None:
    """The cached root file system lies in build/, inside the build context `.`; unless
    .dockerignore leaves build/ out, every build sends it to the daemon (it is not copied
    into the image: the Dockerfile names what it copies)."""
    dockerignore = ROOT / ".dockerignore"
    lines = dockerignore.read_text().splitlines() if dockerignore.exists() else []
    ignored = {line.strip().strip("/") for line in lines}
    if "build" not in ignored and ROOTFS.exists():
        size = int(quiet(["du", "-sb", str(ROOTFS)]).stdout.split()[0]) / 1_000_000
        say(
            f"note: .dockerignore does not leave out build/: the build context includes the "
            f"cached {ROOTFS.relative_to(ROOT)} ({size:.0f} MB)"
        )


# --- 4. what the image holds -----------------------------------------------------------
def in_image(docker: str, entrypoint: str, *args: str) -> str:
    result = quiet(
        [docker, "run", "--rm", "--network", "none", "--entrypoint", entrypoint, IMAGE, *args]
    )
    if result.returncode != 0:
        command = shlex.join([entrypoint, *args])
        fail(f"`{command}` in the image exited with {result.returncode}: {result.stderr}")
    return result.stdout


FIND_TEST_FILES = """
import importlib.metadata, pathlib, authapi
package = pathlib.Path(authapi.__file__).parent
record = [str(f) for f in importlib.metadata.files("authapi") or []]
def is_test(path):
    path = pathlib.PurePath(path)
    return "tests" in path.parts or path.name.startswith("test_")
found = sorted({str(p) for p in package.rglob("*") if is_test(p)} | set(filter(is_test, record)))
print(package)
print(len(record))
print("\\n".join(found))
"""


def no_compiler(docker: str) -> None:
    with check("no compiler on PATH in the image") as details:
        probe = "; ".join(f"command -v {name} || true" for name in COMPILERS)
        found = in_image(docker, "sh", "-c", probe).split()
        if found:
            fail(f"found {', '.join(found)}")
        details.append(f"none of {', '.join(COMPILERS)}")


def no_test_files(docker: str) -> None:
    with check("no test files in the installed package") as details:
        package, files, *found = in_image(docker, "python", "-c", FIND_TEST_FILES).splitlines()
        found = [line for line in found if line]
        if found:
            fail(f"in {package}: {', '.join(found[:10])}")
        details.append(f"{package}: {files} files in its RECORD, no tests/ or test_*.py")


def image_user_not_root(docker: str) -> None:
    with check("the image's user is not root") as details:
        uid = in_image(docker, "id", "-u").strip()
        if uid in ("", "0"):
            fail(f"`id -u` in the image says {uid!r}")
        details.append(f"uid {uid}")


def image_size_mb(docker: str, image: str) -> float:
    result = quiet([docker, "image", "inspect", "--format", "{{.Size}}", image])
    return int(result.stdout.strip()) / 1_000_000


# --- 5. a live container ---------------------------------------------------------------
async def postgres_admin(statement: str) -> None:
    connection = await asyncpg.connect(POSTGRES_ADMIN_DSN, timeout=5)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def http(
    method: str, url: str, body: dict[str, Any] | None = None, token: str | None = None
) -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    assert url.startswith("http://127.0.0.1:")  # only the container under test
    request = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    print(f"    {method} {url} -> {status}", flush=True)
    return status, json.loads(raw) if raw else {}


def expect(status: int, wanted: int, answer: dict[str, Any], what: str) -> None:
    if status != wanted:
        fail(f"{what}: {status} instead of {wanted}: {json.dumps(answer)[:300]}")


def shell_word(argument: str) -> str:
    """`argument` quoted for sh, in double quotes where that needs no escapes (readable)."""
    if shlex.quote(argument) == argument or any(char in argument for char in '"$`\\!'):
        return shlex.quote(argument)
    return f'"{argument}"'


def healthcheck_on(docker: str, port: int) -> str:
    """The image's own HEALTHCHECK command, aimed at `port`.

    It asks http://127.0.0.1:8000/healthz; on the host's network the service listens on
    a free port instead (8000 may be anyone's), so the command is given again with that
    port. Interval, timeout, start period and retries stay the image's."""
    result = quiet([docker, "image", "inspect", "--format", "{{json .Config.Healthcheck}}", IMAGE])
    healthcheck = json.loads(result.stdout)
    if not healthcheck or healthcheck["Test"][0] != "CMD":
        fail(f"the image has no exec-form HEALTHCHECK: {result.stdout.strip()}")
    command = " ".join(shell_word(argument) for argument in healthcheck["Test"][1:])
    if "127.0.0.1:8000/healthz" not in command:
        fail(f"the image's HEALTHCHECK does not ask 127.0.0.1:8000/healthz: {command}")
    return command.replace("127.0.0.1:8000/", f"127.0.0.1:{port}/")


def wait_until_healthy(docker: str, container: str) -> float:
    started = time.monotonic()
    last = ""
    while time.monotonic() - started < HEALTH_TIMEOUT:
        result = quiet(
            [docker, "inspect", "--format", "{{.State.Status}} {{.State.Health.Status}}", container]
        )
        state = result.stdout.strip()
        if state != last:
            print(f"    {time.monotonic() - started:5.1f} s: {state}", flush=True)
            last = state
        if state == "running healthy":
            return time.monotonic() - started
        if not state.startswith("running"):
            fail(f"the container stopped ({state})")
        time.sleep(2)
    fail(f"not healthy within {HEALTH_TIMEOUT:.0f} s (last state: {last})")


def read_verification_token(docker: str, container: str) -> str:
    """The link of the verification email, from the console mailer's outbox directory."""
    deadline = time.monotonic() + 30  # the outbox sender polls every 5 s
    while time.monotonic() < deadline:
        result = quiet(
            [docker, "exec", container, "sh", "-c", "cat /var/lib/authapi/outbox/*.eml 2>/dev/null"]
        )
        match = re.search(r"token=([A-Za-z0-9_-]+)", result.stdout)
        if match:
            return match.group(1)
        time.sleep(1)
    fail("no verification email in /var/lib/authapi/outbox within 30 s")


def serve_and_sign_in(docker: str, state: dict[str, str]) -> None:
    tag = secrets.token_hex(4)
    database = state["database"] = f"authapi_image_{tag}"
    prefix = state["prefix"] = f"authapi-image-{tag}"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    admin_host = POSTGRES_ADMIN_DSN.split("://", 1)[1].rsplit("/", 1)[0]
    settings = {
        "AUTHAPI_DATABASE_URL": f"postgresql+asyncpg://{admin_host}/{database}",
        "AUTHAPI_REDIS_URL": REDIS_URL,
        "AUTHAPI_REDIS_PREFIX": prefix,
        "AUTHAPI_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "AUTHAPI_PUBLIC_URL": base,
        "AUTHAPI_REQUIRE_VERIFIED_EMAIL": "true",
    }
    # `-e NAME` takes the value from the docker client's environment: no secret in argv
    environment = {**os.environ, **settings}
    passed = [argument for name in settings for argument in ("-e", name)]

    with check("a database and a Redis prefix of its own") as details:
        asyncio.run(postgres_admin(f'CREATE DATABASE "{database}"'))
        details.append(f"database {database}, prefix {prefix}")

    with check("`authapi migrate` in the image") as details:
        result = run(
            [docker, "run", "--rm", "--network", "host", *passed, IMAGE, "migrate"],
            env=environment,
            capture=True,
        )
        print(result.stdout, end="")
        details.append(result.stdout.strip().splitlines()[-1])

    container = state["container"] = f"authapi-image-test-{tag}"
    with check("`authapi serve` becomes healthy") as details:
        health = healthcheck_on(docker, port)
        print(f"    health check: the image's own command, on port {port}: {health}")
        detached = ["-d", "--name", container, "--network", "host", "--health-cmd", health]
        serve = ["serve", "--host", "127.0.0.1", "--port", str(port)]
        run(
            [docker, "run", *detached, *passed, IMAGE, *serve],
            env=environment,
            capture=True,
            shown={health: '"<the health check above>"'},
        )
        try:
            seconds = wait_until_healthy(docker, container)
        except CheckFailed:
            say("container log:")
            subprocess.run([docker, "logs", container])
            raise
        interval = quiet(
            [docker, "inspect", "--format", "{{.Config.Healthcheck.Interval}}", container]
        ).stdout.strip()
        details.append(f"healthy after {seconds:.0f} s (checked every {interval}), on {base}")

    with check("register, verify the address, sign in, /users/me") as details:
        status, answer = http(
            "POST", f"{base}/auth/register", {"email": EMAIL, "password": PASSWORD}
        )
        expect(status, 202, answer, "register")
        login = {"email": EMAIL, "password": PASSWORD, "refresh_token_delivery": "body"}
        status, answer = http("POST", f"{base}/auth/login", login)
        expect(status, 403, answer, "sign-in before verifying")
        if answer.get("code") != "email_not_verified":
            fail(f"sign-in before verifying: {answer}")
        token = read_verification_token(docker, container)
        status, answer = http("POST", f"{base}/auth/verify-email", {"token": token})
        expect(status, 200, answer, "verify-email")
        status, answer = http("POST", f"{base}/auth/login", login)
        expect(status, 200, answer, "login")
        status, me = http("GET", f"{base}/users/me", token=answer["access_token"])
        expect(status, 200, me, "/users/me")
        if me.get("email") != EMAIL or me.get("email_verified") is not True:
            fail(f"/users/me answered {me}")
        details.append(f"/users/me: {me['email']}, email_verified={me['email_verified']}")

    with check("the serving process is not root") as details:
        uid = quiet([docker, "exec", container, "id", "-u"]).stdout.strip()
        top = quiet([docker, "top", container, "-o", "uid,pid,args"]).stdout.splitlines()
        print("\n".join(f"    {line}" for line in top))
        uids = {line.split()[0] for line in top[1:]}
        if uid in ("", "0") or not uids or "0" in uids:
            fail(f"`docker exec id -u` says {uid!r}, `docker top` uids {sorted(uids)}")
        details.append(f"docker exec id -u: {uid}; docker top: uid {', '.join(sorted(uids))}")


# --- 6. clean-up and summary -----------------------------------------------------------
def soft(step: Callable[..., None], *args: Any) -> None:
    """Run a step whose failure `check` has recorded, and go on with the next one."""
    with suppress(CheckFailed):
        step(*args)


def remove_container(docker: str, container: str) -> None:
    with check("clean-up: container removed") as details:
        if quiet([docker, "rm", "-f", "-v", container]).returncode != 0:
            fail(f"docker rm -f {container} failed")
        details.append(container)


def drop_database(database: str) -> None:
    with check("clean-up: database dropped") as details:
        try:
            asyncio.run(postgres_admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        except (OSError, asyncpg.PostgresError) as exc:
            fail(f"{type(exc).__name__}: {exc}")
        details.append(database)


def delete_redis_keys(prefix: str) -> None:
    """SCAN for the keys of this run's prefix only, and DEL them."""
    with check("clean-up: Redis keys of the prefix deleted") as details:
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
        try:
            keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
            for key in keys:
                client.delete(key)
            left = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        except redis.RedisError as exc:
            fail(f"{type(exc).__name__}: {exc}")
        finally:
            client.close()
        if left:
            fail(f"{len(left)} keys left under {prefix}:")
        details.append(f"{len(keys)} keys under {prefix}:")


def clean_up(docker: str | None, state: dict[str, str]) -> None:
    say("cleaning up")
    if docker and "container" in state:
        soft(remove_container, docker, state["container"])
    if "database" in state:
        soft(drop_database, state["database"])
    if "prefix" in state:
        soft(delete_redis_keys, state["prefix"])


def main() -> int:
    os.chdir(ROOT)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so `finally` cleans up
    docker: str | None = None
    state: dict[str, str] = {}
    try:
        with check("Docker daemon and client") as details:
            docker = prepare_docker()
            details.append(docker)
        with check(f"base image {BASE_IMAGE} (debootstrap stand-in)"):
            ensure_base_image(docker)
        with check(f"docker build -t {IMAGE} . (Dockerfile unchanged, classic builder)"):
            warn_if_build_dir_in_context()
            run(
                [docker, "build", "--network", "host", "-t", IMAGE, "."],
                env={**os.environ, "DOCKER_BUILDKIT": "0"},
            )
        for image_check in (no_compiler, no_test_files, image_user_not_root):
            soft(image_check, docker)
        serve_and_sign_in(docker, state)
    except CheckFailed:
        pass  # recorded; the checks after it did not run
    except Exception as exc:  # a bug here, or a service that went away: a failure too
        record("the run itself", False, f"{type(exc).__name__}: {exc}")
    finally:
        clean_up(docker, state)
        print("\n==== image-test summary ====")
        for name, passed, detail in RESULTS:
            print(f"{'PASS' if passed else 'FAIL'}  {name}{f'  [{detail}]' if detail else ''}")
        if docker and quiet([docker, "image", "inspect", IMAGE]).returncode == 0:
            print(
                f"image size: {IMAGE} {image_size_mb(docker, IMAGE):.1f} MB "
                f"(base {BASE_IMAGE}, the stand-in: {image_size_mb(docker, BASE_IMAGE):.1f} MB)"
            )
    failed = [name for name, passed, _ in RESULTS if not passed]
    print(f"image-test: {'FAILED: ' + ', '.join(failed) if failed else 'all checks passed'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

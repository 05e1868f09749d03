"""Real Redis topologies for tests: a 3-master Cluster, and a master with a replica and
three sentinels, each from Debian's `redis-server` on private ports of this run.

Nothing here touches the shared Redis on 6379. Every process runs in a temporary
folder of its own (cluster and sentinel state files are written there) and is
stopped at teardown, whatever the test did. Sentinel timings are short
(down-after 1 s, failover in a few seconds) so a failover fits in a test.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import redis

from tests.processes import stop_process

START_TIMEOUT_SECONDS = 20.0
SERVICE_NAME = "authapi-test"


def _free_port_pair() -> int:
    """A port whose cluster bus port (port + 10000) is free too."""
    for _ in range(100):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port: int = probe.getsockname()[1]
        if port + 10000 > 65535:
            continue
        with socket.socket() as bus:
            try:
                bus.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port pair")


@dataclass
class Node:
    """One `redis-server` process (a data node or a sentinel)."""

    workdir: Path
    port: int = field(default_factory=_free_port_pair)
    process: subprocess.Popen[bytes] | None = None

    def start(self, *arguments: str, config: str | None = None) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        command = [shutil.which("redis-server") or "redis-server"]
        if config is not None:
            path = self.workdir / "redis.conf"
            path.write_text(config)
            command.append(str(path))
        command += [
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            "--dir",
            str(self.workdir),
            "--logfile",
            str(self.workdir / "redis.log"),
            *arguments,
        ]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self.wait_until(lambda client: bool(client.ping()), "answer PING")

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_connect_timeout=1, socket_timeout=2)

    def wait_until(self, check: object, what: str, timeout: float = START_TIMEOUT_SECONDS) -> None:
        deadline = time.monotonic() + timeout
        client = self.client()
        try:
            while True:
                try:
                    if check(client):  # type: ignore[operator]
                        return
                except redis.RedisError:
                    pass
                if self.process is not None and self.process.poll() is not None:
                    raise RuntimeError(f"redis on {self.port} exited: {self.log_tail()}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"redis on {self.port} did not {what}: {self.log_tail()}")
                time.sleep(0.05)
        finally:
            client.close()

    def log_tail(self) -> str:
        log = self.workdir / "redis.log"
        return log.read_text()[-2000:] if log.exists() else "(no log)"

    def kill(self) -> None:
        """SIGKILL: the node dies at once, as a crashed machine would."""
        process, self.process = self.process, None
        if process is not None:
            process.kill()
            process.wait()

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None:
            stop_process(process)


@dataclass
class Cluster:
    """Three masters holding every slot between them, no replicas."""

    nodes: list[Node]

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{node.port}" for node in self.nodes[:2])

    def inspector(self) -> redis.RedisCluster:
        return redis.RedisCluster(host="127.0.0.1", port=self.nodes[0].port, decode_responses=True)


@dataclass
class SentinelSet:
    """A master, its replica and three sentinels watching it as SERVICE_NAME."""

    master: Node
    replica: Node
    sentinels: list[Node]

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{node.port}" for node in self.sentinels)
        return f"redis+sentinel://{hosts}/{SERVICE_NAME}"

    def current_master_port(self) -> int:
        client = self.sentinels[0].client()
        try:
            host_port = client.execute_command("SENTINEL", "get-master-addr-by-name", SERVICE_NAME)
        finally:
            client.close()
        return int(host_port[1])


@contextmanager
def running_cluster(root: Path) -> Iterator[Cluster]:
    nodes = [Node(root / f"cluster-{index}") for index in range(3)]
    try:
        for node in nodes:
            node.start("--cluster-enabled", "yes", "--cluster-node-timeout", "2000")
        create = subprocess.run(
            [
                "redis-cli",
                "--cluster",
                "create",
                *(f"127.0.0.1:{node.port}" for node in nodes),
                "--cluster-replicas",
                "0",
                "--cluster-yes",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if create.returncode != 0:
            raise RuntimeError(
                f"redis-cli --cluster create failed:\n{create.stdout}{create.stderr}"
            )
        for node in nodes:
            node.wait_until(
                lambda client: client.cluster("INFO")["cluster_state"] == "ok",
                "report cluster_state:ok",
            )
        yield Cluster(nodes)
    finally:
        for node in nodes:
            node.stop()


@contextmanager
def running_sentinels(root: Path) -> Iterator[SentinelSet]:
    master = Node(root / "master")
    replica = Node(root / "replica")
    sentinels = [Node(root / f"sentinel-{index}") for index in range(3)]
    everything = [master, replica, *sentinels]
    try:
        master.start("--repl-diskless-sync-delay", "0")
        replica.start("--replicaof", "127.0.0.1", str(master.port))
        replica.wait_until(
            lambda client: client.info("replication")["master_link_status"] == "up",
            "follow its master",
        )
        for sentinel in sentinels:
            sentinel.start(
                "--sentinel",
                config=(
                    f"sentinel monitor {SERVICE_NAME} 127.0.0.1 {master.port} 2\n"
                    f"sentinel down-after-milliseconds {SERVICE_NAME} 1000\n"
                    f"sentinel failover-timeout {SERVICE_NAME} 5000\n"
                    f"sentinel parallel-syncs {SERVICE_NAME} 1\n"
                ),
            )
        for sentinel in sentinels:
            # each sentinel knows the replica and the two other sentinels before tests begin
            sentinel.wait_until(
                lambda client: _sentinel_sees(client, replicas=1, sentinels=2),
                "see the replica and the other sentinels",
            )
        yield SentinelSet(master, replica, sentinels)
    finally:
        for node in reversed(everything):
            node.stop()


def _sentinel_sees(client: redis.Redis, *, replicas: int, sentinels: int) -> bool:
    state = client.sentinel_master(SERVICE_NAME)
    return int(state["num-slaves"]) >= replicas and int(state["num-other-sentinels"]) >= sentinels

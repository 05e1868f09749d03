"""Where Redis is: one server, a master that Sentinels watch, or a Cluster.

AUTHAPI_REDIS_URL takes one of:

    redis://[user:password@]host:port/db      one server (also rediss:// and unix://)
    redis+sentinel://[user:password@]host:port[,host:port…]/service-name[/db]
    redis+cluster://[user:password@]host:port[,host:port…]

With Sentinel, the hosts are the sentinels; they name the master of `service-name`,
and after a failover the clients find the promoted replica by themselves. With
Cluster, the hosts are any nodes to start from (the client learns the rest); a
Cluster has one database, 0. Credentials in the URL go to every node, the
sentinels included (as `limits`, the rate limiter's library, sends them): give the
sentinels the data nodes' password, or use no password on either. TLS is only for
the one-server form (rediss://).

Every key one atomic operation of the token store touches carries one hash tag (see
store/redis.py), and each script `limits` runs touches one key, so Cluster needs
nothing more than the right client, opened with `CLUSTER_OPTIONS` (below).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from limits.aio.storage import RedisClusterStorage, RedisSentinelStorage, RedisStorage, Storage
from redis.asyncio import Redis, RedisCluster
from redis.asyncio.cluster import ClusterNode
from redis.asyncio.sentinel import Sentinel

SINGLE_SCHEMES = ("redis", "rediss", "unix")
SENTINEL_SCHEME = "redis+sentinel"
CLUSTER_SCHEME = "redis+cluster"

# redis-py's Cluster client answers every fifth MOVED by closing the connections of every
# node, those that carry other tasks' commands included; each such command fails or is
# sent again, and a command that had already run runs twice (a SET NX then answers
# "not first", a counter counts twice). MOVED comes in bursts: when a client starts, the
# commands made before it knows the slots go to a random node, and while slots migrate.
# Without the closing, a MOVED only corrects the slot it names (NodesManager.move_slot)
# and a connection error still relearns the whole layout. Measured on the test Cluster:
# 40 concurrent first commands on a new client ran twice or failed in 50 of 50 tries
# with redis-py's default (5), in none of 50 with 0.
CLUSTER_OPTIONS: dict[str, Any] = {"reinitialize_steps": 0}


class Layout(StrEnum):
    SINGLE = "single"
    SENTINEL = "sentinel"
    CLUSTER = "cluster"


@dataclass(frozen=True)
class RedisTopology:
    layout: Layout
    url: str
    nodes: tuple[tuple[str, int], ...] = ()
    service_name: str | None = None
    db: int = 0
    username: str | None = None
    password: str | None = None

    @property
    def credentials(self) -> dict[str, Any]:
        found = {"username": self.username, "password": self.password}
        return {name: value for name, value in found.items() if value}


def parse_redis_url(url: str) -> RedisTopology:
    """The topology AUTHAPI_REDIS_URL names.

    Raises:
        ValueError: a scheme, host list, service name or database that cannot work;
            the message names what is wrong and never repeats a password.
    """
    scheme, _, rest = url.partition("://")
    if scheme in SINGLE_SCHEMES:
        return RedisTopology(Layout.SINGLE, url)
    if scheme not in (SENTINEL_SCHEME, CLUSTER_SCHEME):
        raise ValueError(
            "use redis://, rediss://, unix://, redis+sentinel://host:port,…/service-name "
            "or redis+cluster://host:port,…"
        )
    userinfo, _, location = rest.rpartition("@")
    hosts, _, path = location.partition("/")
    path = path.split("?", 1)[0].strip("/")
    nodes = tuple(_node(host) for host in hosts.split(","))
    username, password = _credentials(userinfo)
    if scheme == CLUSTER_SCHEME:
        if path not in ("", "0"):
            raise ValueError("a Redis Cluster has only database 0: drop the path of the URL")
        return RedisTopology(Layout.CLUSTER, url, nodes=nodes, username=username, password=password)
    service_name, _, db = path.partition("/")
    if not service_name:
        raise ValueError("name the master Sentinel watches: redis+sentinel://host:port/name")
    if db and not db.isdigit():
        raise ValueError("the database after the service name must be a number")
    return RedisTopology(
        Layout.SENTINEL,
        url,
        nodes=nodes,
        service_name=service_name,
        db=int(db or 0),
        username=username,
        password=password,
    )


def _node(text: str) -> tuple[str, int]:
    parts = urlsplit(f"//{text}")
    try:
        port = parts.port or 0
    except ValueError:
        port = 0
    if not parts.hostname or not port:
        raise ValueError("every node needs host:port, separated by commas")
    return parts.hostname, port


def _credentials(userinfo: str) -> tuple[str | None, str | None]:
    if not userinfo:
        return None, None
    username, colon, password = userinfo.partition(":")
    if not colon:
        return None, unquote(username) or None
    return unquote(username) or None, unquote(password) or None


@dataclass(frozen=True)
class Opened:
    """A client, and with Sentinel the clients of the sentinels it asks, to close with it.

    The sentinels are taken when the client is made: redis-py reorders its list of them
    while it looks for the master, and concurrent lookups can leave one out of it."""

    client: Redis | RedisCluster
    sentinels: tuple[Redis, ...] = ()

    async def close(self) -> None:
        await self.client.aclose()
        for sentinel in self.sentinels:
            await sentinel.aclose()


def open_client(
    topology: RedisTopology, options: dict[str, Any], *, decode_responses: bool
) -> Opened:
    """A client on the topology's data: the one server, Sentinel's master, or the Cluster."""
    if topology.layout is Layout.SINGLE:
        return Opened(Redis.from_url(topology.url, decode_responses=decode_responses, **options))
    if topology.layout is Layout.CLUSTER:
        cluster = RedisCluster(
            startup_nodes=[ClusterNode(host, port) for host, port in topology.nodes],
            decode_responses=decode_responses,
            **topology.credentials,
            **options,
            **CLUSTER_OPTIONS,
        )
        return Opened(cluster)
    sentinel = Sentinel(  # type: ignore[no-untyped-call]
        list(topology.nodes),
        sentinel_kwargs={**_sentinel_options(options), **topology.credentials},
        **topology.credentials,
    )
    assert topology.service_name is not None
    master: Redis = sentinel.master_for(
        topology.service_name, decode_responses=decode_responses, db=topology.db, **options
    )
    return Opened(master, tuple(sentinel.sentinels))


def limits_storage(
    topology: RedisTopology, options: dict[str, Any], *, key_prefix: str
) -> tuple[Storage, Opened]:
    """`limits` storage on the same topology, through redis-py (never the replicas), and
    its connections to close at shutdown."""
    storage = _limits_storage(topology, options, key_prefix=key_prefix)
    bridge = storage.bridge  # type: ignore[attr-defined]
    sentinel = getattr(bridge, "sentinel", None)
    sentinels = tuple(sentinel.sentinels) if sentinel is not None else ()
    return storage, Opened(bridge.get_connection(), sentinels)


def _limits_storage(
    topology: RedisTopology, options: dict[str, Any], *, key_prefix: str
) -> Storage:
    if topology.layout is Layout.SINGLE:
        return RedisStorage(
            topology.url, implementation="redispy", key_prefix=key_prefix, **options
        )
    userinfo = ""
    if topology.credentials:
        userinfo = ":".join(quote(value, safe="") for value in _userinfo(topology)) + "@"
    hosts = ",".join(f"{host}:{port}" for host, port in topology.nodes)
    if topology.layout is Layout.CLUSTER:
        return RedisClusterStorage(
            f"async+redis+cluster://{userinfo}{hosts}",
            implementation="redispy",
            key_prefix=key_prefix,
            **options,
            **CLUSTER_OPTIONS,
        )
    return RedisSentinelStorage(
        f"async+redis+sentinel://{userinfo}{hosts}/{topology.service_name}",
        implementation="redispy",
        key_prefix=key_prefix,
        use_replicas=False,  # a replica's counts lag: a budget must be read where it is spent
        sentinel_kwargs=_sentinel_options(options),
        db=topology.db,
        **options,
    )


def _userinfo(topology: RedisTopology) -> tuple[str, ...]:
    return (topology.username or "", topology.password or "")


def _sentinel_options(options: dict[str, Any]) -> dict[str, Any]:
    """The timeouts of the data connections, for the sentinels' own connections too."""
    names = ("socket_timeout", "socket_connect_timeout")
    return {name: options[name] for name in names if name in options}

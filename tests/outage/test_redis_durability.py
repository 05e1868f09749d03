"""Sessions live in Redis: start says so when Redis keeps nothing on disk (a restart would
end every session), and says nothing when it keeps an append-only file."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from authapi.store.redis import RedisTokenStore
from tests.conftest import PostgresDatabase, SmtpServer
from tests.outage.conftest import PrivateRedis, outage_api

WARNING = "Redis keeps nothing on disk"


def set_appendonly(server: PrivateRedis, value: str) -> None:
    """Turns the append-only file on or off and, when on, waits until Redis has written
    its first one: until then Redis refuses SIGTERM ("Writing initial AOF, can't exit"),
    and stopping the server took the teardown's full 10 s before a SIGKILL."""
    client = server.client()
    try:
        client.config_set("appendonly", value)
    finally:
        client.close()
    if value == "yes":
        server.wait_until(_first_append_only_file_written, "write its first append-only file")


def _first_append_only_file_written(client: redis.Redis) -> bool:
    persistence = client.info("persistence")
    return bool(
        persistence["aof_enabled"]
        and not persistence["aof_rewrite_in_progress"]
        and not persistence["aof_rewrite_scheduled"]
    )


async def test_the_store_tells_whether_redis_keeps_its_data(private_redis: PrivateRedis) -> None:
    store = RedisTokenStore.from_url(private_redis.url, prefix="durability")
    try:
        assert await store.keeps_data() is False
        set_appendonly(private_redis, "yes")
        assert await store.keeps_data() is True
    finally:
        await store.close()


async def test_start_warns_once_when_redis_keeps_nothing_and_not_when_it_keeps_a_log(
    tmp_path: Path,
    postgres: PostgresDatabase,
    private_redis: PrivateRedis,
    smtp_server: SmtpServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with outage_api(
        tmp_path, smtp_server, database_url=postgres.url, redis_url=private_redis.url
    ):
        pass
    assert len([r for r in caplog.records if WARNING in r.message]) == 1
    caplog.clear()
    set_appendonly(private_redis, "yes")
    async with outage_api(
        tmp_path, smtp_server, database_url=postgres.url, redis_url=private_redis.url
    ):
        pass
    assert not [r for r in caplog.records if WARNING in r.message]

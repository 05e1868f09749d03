"""Where the backing services are: AUTHAPI_REDIS_URL's three forms (one server, Sentinel,
Cluster: authapi.store.topology) and AUTHAPI_DATABASE_POOL_MODE's requirement."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from authapi.settings import Settings, config_error_line
from authapi.store.topology import Layout, parse_redis_url


@pytest.mark.parametrize(
    "url", ["redis://localhost:6379/0", "rediss://user:pw@cache:6380/2", "unix:///run/redis.sock"]
)
def test_one_server_urls_are_passed_to_redis_py_as_they_are(url: str) -> None:
    topology = parse_redis_url(url)
    assert topology.layout is Layout.SINGLE
    assert topology.url == url


def test_a_sentinel_url_names_the_sentinels_the_service_and_the_database() -> None:
    topology = parse_redis_url("redis+sentinel://:s%40cret@s1:26379,s2:26380,s3:26381/main/3")
    assert topology.layout is Layout.SENTINEL
    assert topology.nodes == (("s1", 26379), ("s2", 26380), ("s3", 26381))
    assert topology.service_name == "main"
    assert topology.db == 3
    assert topology.credentials == {"password": "s@cret"}


def test_a_cluster_url_names_its_start_nodes_and_credentials() -> None:
    topology = parse_redis_url("redis+cluster://app:pw@10.0.0.1:7000,10.0.0.2:7001")
    assert topology.layout is Layout.CLUSTER
    assert topology.nodes == (("10.0.0.1", 7000), ("10.0.0.2", 7001))
    assert topology.credentials == {"username": "app", "password": "pw"}


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://cache:6379", "use redis://"),
        ("redis+sentinel://s1:26379", "name the master"),
        ("redis+sentinel://s1:26379/main/x", "must be a number"),
        ("redis+sentinel://s1/main", "host:port"),
        ("redis+cluster://n1:7000,n2/", "host:port"),
        ("redis+cluster://n1:7000/2", "only database 0"),
    ],
)
def test_a_url_that_cannot_work_stops_the_start_with_one_line(
    tmp_path: Path, url: str, message: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        Settings(data_dir=tmp_path, redis_url=url)
    line = config_error_line(raised.value)
    assert line.startswith("invalid configuration: AUTHAPI_REDIS_URL: ")
    assert message in line


def test_the_password_is_never_in_the_error_line(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as raised:
        Settings(data_dir=tmp_path, redis_url="redis+sentinel://:hunter2secret@s1:26379")
    line = config_error_line(raised.value)
    assert "name the master" in line
    assert "hunter2secret" not in line


def test_transaction_pool_mode_needs_postgresql(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as raised:
        Settings(data_dir=tmp_path, database_pool_mode="transaction")
    assert "AUTHAPI_DATABASE_POOL_MODE=transaction" in config_error_line(raised.value)

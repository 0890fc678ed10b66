"""A real redis-server for the tests: started on a free loopback port in a temporary folder.

Use with ``pytest_plugins = ["tests.fixtures_redis"]``. Without redis-server installed the Redis
tests are skipped on a developer's machine but fail when ``CI=true``: CI must run them.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
import redis


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RedisServer:
    """One redis-server process with append-only persistence, so a restart keeps the data;
    ``options`` are more command-line settings, which override those."""

    def __init__(self, executable: str, folder: Path, options: Sequence[str] = ()) -> None:
        self.executable = executable
        self.folder = folder
        self.options = list(options)
        self.port = _free_port()
        self.process: subprocess.Popen | None = None

    def url(self, prefix: str) -> str:
        return f"redis://127.0.0.1:{self.port}/0?prefix={prefix}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.executable,
                "--bind", "127.0.0.1",
                "--port", str(self.port),
                "--dir", str(self.folder),
                "--appendonly", "yes",
                "--save", "",
                "--logfile", str(self.folder / "redis.log"),
                *self.options,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                client.close()
                return
            except redis.ConnectionError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    log = (self.folder / "redis.log").read_text(errors="replace")[-2000:]
                    self.stop()
                    raise RuntimeError(f"redis-server did not start:\n{log}") from None
                time.sleep(0.02)

    def stop(self) -> None:
        """SIGTERM: Redis flushes the append-only file and exits."""
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()


def _executable() -> str:
    executable = shutil.which("redis-server")
    if executable is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("redis-server is not installed: CI must run the Redis tests")
        pytest.skip("redis-server is not installed")
    return executable


def _server(folder: Path) -> Iterator[RedisServer]:
    server = RedisServer(_executable(), folder)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One server for the session; tests keep apart by prefix (see ``redis_url``)."""
    yield from _server(tmp_path_factory.mktemp("redis"))


@pytest.fixture
def own_redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A server of the test's own, for tests that stop or restart it."""
    folder = tmp_path / "redis"
    folder.mkdir()
    yield from _server(folder)


@pytest.fixture
def start_redis_server(tmp_path: Path) -> Iterator[Callable[..., RedisServer]]:
    """Starts servers of the test's own with more settings, as
    ``start_redis_server("--maxmemory", "4mb")``; each is stopped when the test ends."""
    servers: list[RedisServer] = []

    def start(*options: str) -> RedisServer:
        folder = tmp_path / f"redis-{len(servers)}"
        folder.mkdir()
        server = RedisServer(_executable(), folder, options)
        server.start()
        servers.append(server)
        return server

    try:
        yield start
    finally:
        for server in servers:
            server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """A fresh, empty index on the session's server."""
    return redis_server.url(f"test-{uuid.uuid4().hex[:12]}")

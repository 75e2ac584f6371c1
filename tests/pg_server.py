"""A throwaway PostgreSQL server for the tests, from Debian's `postgresql` binaries.

`initdb` in a fresh temporary folder, `pg_ctl start` on a free localhost port (password
authentication, fsync off), one database per test, `pg_ctl stop` and the folder removed at
the end. PostgreSQL refuses to run as root, so as root the server runs as the `postgres`
user (or `nobody`) through `runuser`, with the folder handed to that user.
"""

from __future__ import annotations

import logging
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

USER, PASSWORD = "semhash", "s3cret pw"  # a space: the URL must quote it


class NoServer(Exception):
    """No PostgreSQL server can run here; the message says why."""


def find_bindir() -> Path:
    """The folder of initdb and pg_ctl: on PATH, else the newest /usr/lib/postgresql/N/bin."""
    found = shutil.which("pg_ctl")
    if found and shutil.which("initdb"):
        return Path(found).parent
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
        key=lambda p: [int(n) for n in re.findall(r"\d+", p.parent.parent.name)],
    )
    if not versions:
        raise NoServer("PostgreSQL is not installed (apt-get install postgresql)")
    return versions[-1].parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_as() -> tuple[list[str], str | None]:
    """(command prefix, user) to run server binaries unprivileged."""
    if os.geteuid() != 0:
        return [], None
    for user in ("postgres", "nobody"):
        try:
            pwd.getpwnam(user)
        except KeyError:
            continue
        if shutil.which("runuser"):
            return ["runuser", "-u", user, "--"], user
    raise NoServer("running as root without a `postgres` user or runuser to drop privileges")


class PostgresServer:
    def __init__(self) -> None:
        self.bindir = find_bindir()
        self.prefix, self.user = _run_as()
        self.root = Path(tempfile.mkdtemp(prefix="semhash-pg-"))
        self.data = self.root / "data"
        self.port = 0
        self._count = 0

    def _run(self, *args: str) -> None:
        cmd = [*self.prefix, str(self.bindir / args[0]), *args[1:]]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if done.returncode:
            raise NoServer(f"{args[0]} failed: {(done.stderr or done.stdout).strip()[-500:]}")

    def start(self) -> PostgresServer:
        if self.user:
            shutil.chown(self.root, self.user)
        pwfile = self.root / "pw"
        pwfile.write_text(PASSWORD + "\n")
        if self.user:
            shutil.chown(pwfile, self.user)
        self._run("initdb", "-D", str(self.data), "-U", USER, "-A", "scram-sha-256",
                  f"--pwfile={pwfile}", "-E", "UTF8", "--no-locale", "--no-sync")  # fmt: skip
        for attempt in range(3):  # another process may take the free port first
            self.port = _free_port()
            opts = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
                    "-c fsync=off -c synchronous_commit=off -c full_page_writes=off")  # fmt: skip
            try:
                self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"),
                          "-w", "-t", "60", "-o", opts, "start")  # fmt: skip
                log.info("PostgreSQL from %s on port %d", self.bindir, self.port)
                return self
            except NoServer:
                if attempt == 2:
                    raise
        return self

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            try:
                self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
            except NoServer:
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres", password: bool = True) -> str:
        secret = ":s3cret%20pw" if password else ""
        return f"postgresql+psycopg://{USER}{secret}@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A new empty database; returns its name."""
        import psycopg

        self._count += 1
        name = f"semhash_test_{self._count}"
        conninfo = f"host=127.0.0.1 port={self.port} user={USER} dbname=postgres"
        with psycopg.connect(conninfo, password=PASSWORD, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return name

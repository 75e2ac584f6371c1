"""Running the app with uvicorn: checked address, one socket, a warning off loopback."""

from __future__ import annotations

import ipaddress
import logging
import socket

import uvicorn

from semantic_hashing.retrieval.errors import SemhashError

log = logging.getLogger(__name__)


def check_address(host: str, port: int) -> None:
    if not 1 <= port <= 65535:
        raise SemhashError(f"--port must be from 1 to 65535, not {port}.")
    if not host:
        raise SemhashError("--host must not be empty.")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on (host, port), or one sentence why there cannot be one."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named: asyncio sets TCP_NODELAY only on sockets that say so (else each
    # response waits for the client's delayed ACK: 40 ms)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise SemhashError(f"cannot listen on {host}:{port} ({exc.strerror or exc}).") from None
    except UnicodeError:  # an unusable host name
        sock.close()
        raise SemhashError(f"cannot listen on {host}:{port} (not a host name).") from None
    sock.set_inheritable(True)
    return sock


def serve(paths, host: str = "127.0.0.1", port: int = 8000, on_ready=None,
          allowed_hosts=None, workers: int = 1) -> None:  # fmt: skip
    """Serve the collections at `paths` until interrupted (the page at http://host:port/);
    `on_ready(url, names)` is called once the socket listens. Only requests naming one of
    `allowed_hosts` in their Host header are answered (default: `host`, localhost,
    127.0.0.1 and ::1; "*" for any). `workers` > 1: that many processes answer
    (server/workers.py), each with the collections opened on its own."""
    from semantic_hashing.retrieval.progress import set_progress
    from semantic_hashing.server.app import create_app
    from semantic_hashing.server.state import default_hosts
    from semantic_hashing.server.workers import check_workers

    check_address(host, port)
    check_workers(workers)
    hosts = list(allowed_hosts) if allowed_hosts else default_hosts(host)
    set_progress(False)  # no progress bar per query in the server's log
    app = create_app(paths, one_thread=True, allowed_hosts=hosts)  # each must open, here
    names = list(app.state.served.collections)
    if workers > 1:  # the workers open their own; this process only supervises them
        app.state.served.close()
        app = None
    sock = bind(host, port)
    if not is_loopback(host):
        log.warning("listening on %s, not on loopback: anyone who can reach this machine can "
                    "search these collections and see their items and files", host)  # fmt: skip
        if not allowed_hosts:
            log.warning("requests are answered only for the host names %s; name the ones "
                        "clients use with --allowed-hosts", ", ".join(hosts))  # fmt: skip
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{sock.getsockname()[1]}/"
    if on_ready is not None:
        on_ready(url, names)
    try:
        if app is not None:
            uvicorn.Server(_config(app)).run(sockets=[sock])
        else:
            _supervise(paths, hosts, workers, sock)
    finally:
        sock.close()


def _config(app, **more):
    return uvicorn.Config(app, log_config=None, access_log=log.isEnabledFor(logging.DEBUG),
                          timeout_graceful_shutdown=3, **more)  # fmt: skip


def _supervise(paths, hosts, workers: int, sock) -> None:
    """uvicorn's supervisor over `workers` spawned processes on `sock`; a worker that
    dies is started again, one that cannot start stops them all (one sentence)."""
    from uvicorn.config import STARTUP_FAILURE
    from uvicorn.supervisors import Multiprocess

    from semantic_hashing.server.workers import FACTORY, hand_over

    hand_over(paths, hosts)
    supervisor = Multiprocess(_config(FACTORY, factory=True, workers=workers), sockets=[sock])
    supervisor.run()
    if any(p.exitcode == STARTUP_FAILURE for p in supervisor.processes):
        raise SemhashError("a worker process of semhash serve could not start (its log says why).")

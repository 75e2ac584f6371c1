"""Running the app with uvicorn: checked address, one socket, a warning off loopback."""

from __future__ import annotations

import ipaddress
import logging
import socket

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
          allowed_hosts=None) -> None:  # fmt: skip
    """Serve the collections at `paths` until interrupted (the page at http://host:port/);
    `on_ready(url, names)` is called once the socket listens. Only requests naming one of
    `allowed_hosts` in their Host header are answered (default: `host`, localhost,
    127.0.0.1 and ::1; "*" for any)."""
    import uvicorn

    from semantic_hashing.retrieval.progress import set_progress
    from semantic_hashing.server.app import create_app
    from semantic_hashing.server.state import default_hosts

    check_address(host, port)
    hosts = list(allowed_hosts) if allowed_hosts else default_hosts(host)
    set_progress(False)  # no progress bar per query in the server's log
    app = create_app(paths, one_thread=True, allowed_hosts=hosts)
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
        on_ready(url, list(app.state.served.collections))
    config = uvicorn.Config(app, log_config=None, access_log=log.isEnabledFor(logging.DEBUG),
                            timeout_graceful_shutdown=3)  # fmt: skip
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()

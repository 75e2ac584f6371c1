"""`semhash serve --workers N`: N processes answering on one listening socket.

One process answers one query at a time (each collection's lock, Python's GIL), so on a
machine with more cores concurrent clients queue behind it. uvicorn's supervisor starts N
processes (spawned, not forked: torch's and OpenMP's threads do not survive a fork) that
share the socket the parent bound; each opens the collections itself, read-only, and
refreshes them on its own when `index` commits a new state. The parent hands the settings
over in one environment variable, which the spawned processes inherit.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from semantic_hashing.retrieval.errors import SemhashError

SETTINGS = "SEMHASH_SERVE_WORKER"  # the settings of each worker process, as JSON
FACTORY = f"{__name__}:worker_app"
MAX_WORKERS = 64


def check_workers(workers: int) -> None:
    if not 1 <= workers <= MAX_WORKERS:
        raise SemhashError(f"--workers must be from 1 to {MAX_WORKERS}, not {workers}.")


def hand_over(paths, hosts) -> None:
    """Write the settings the worker processes read in `worker_app`: the collections, the
    host names answered, and this process's logging (its level, format and the levels of
    the loggers it quieted). Paths that are not UTF-8 travel as surrogate escapes, which
    JSON keeps."""
    root = logging.getLogger()
    shown = root.handlers[0].formatter if root.handlers else None
    levels = {name: lg.level for name, lg in logging.root.manager.loggerDict.items()
              if isinstance(lg, logging.Logger) and lg.level != logging.NOTSET}  # fmt: skip
    os.environ[SETTINGS] = json.dumps({
        "paths": [os.fspath(p) for p in paths], "hosts": hosts, "level": root.level,
        "format": shown._fmt if shown else None, "levels": levels,
    })  # fmt: skip


def worker_app():
    """The app of one worker process (uvicorn calls this factory in each)."""
    from semantic_hashing.retrieval.progress import set_progress
    from semantic_hashing.server.app import create_app

    settings = json.loads(os.environ[SETTINGS])
    logging.basicConfig(level=settings["level"], format=settings["format"])
    for name, level in settings["levels"].items():  # the parent's quieted loggers
        logging.getLogger(name).setLevel(level)
    set_progress(False)
    return create_app([Path(p) for p in settings["paths"]], one_thread=True,
                      allowed_hosts=settings["hosts"])  # fmt: skip

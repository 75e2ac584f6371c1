"""A throwaway Milvus standalone server for the tests, from the `milvus` pip package.

The package (Linux x86_64, part of the `milvus` extra) embeds a real Milvus 2.3 server:
started in a fresh temporary folder on free loopback ports, stopped and removed at the end
of the test session.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)


class NoMilvus(Exception):
    """No embedded Milvus server can run here; the message says why."""


class MilvusServer:
    def __init__(self) -> None:
        try:
            from milvus import MilvusServer as Embedded
        except ImportError as exc:
            raise NoMilvus(f"the `milvus` package is not installed ({exc})") from None
        self.root = Path(tempfile.mkdtemp(prefix="semhash-milvus-"))
        self.server = Embedded()
        self.server.set_base_dir(str(self.root))
        self.port = 0

    def start(self) -> MilvusServer:
        try:
            self.server.start()
        except Exception as exc:  # the package raises RuntimeError, TimeoutError, OSError
            raise NoMilvus(f"the embedded Milvus server did not start ({exc})") from None
        self.port = int(self.server.listen_port)
        log.info("Milvus server on port %d (%s)", self.port, self.root)
        return self

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        try:
            self.server.stop()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

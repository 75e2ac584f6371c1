"""A Milvus standalone server on this machine, from the `milvus` pip package (Linux x86_64,
in the `milvus` extra): for benchmarks and tests, started in a temporary folder on free
loopback ports and removed again on `stop()`."""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path

from semantic_hashing.retrieval.errors import SemhashError

log = logging.getLogger(__name__)


class EmbeddedMilvus:
    def __init__(self) -> None:
        try:
            from milvus import MilvusServer
        except ImportError as exc:
            raise SemhashError(
                "the embedded Milvus server needs the `milvus` package "
                f"(pip install 'semantic-hashing[milvus]') ({exc})."
            ) from None
        self.root = Path(tempfile.mkdtemp(prefix="semhash-milvus-"))
        self.server = MilvusServer()
        self.server.set_base_dir(str(self.root))
        self.port = 0

    def start(self) -> EmbeddedMilvus:
        try:
            self.server.start()
        except Exception as exc:  # the package raises RuntimeError, TimeoutError, OSError
            self.stop()
            raise SemhashError(f"the embedded Milvus server did not start ({exc}).") from None
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

    def __enter__(self) -> EmbeddedMilvus:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

"""The embedded Milvus server of the tests (indexer/milvus_embedded.py), with the reason it
cannot run as an exception the session fixture turns into a skip (or, in CI, a failure)."""

from __future__ import annotations

from semantic_hashing.indexer.milvus_embedded import EmbeddedMilvus
from semantic_hashing.retrieval.errors import SemhashError


class NoMilvus(Exception):
    """No embedded Milvus server can run here; the message says why."""


class MilvusServer:
    def __init__(self) -> None:
        try:
            self.embedded = EmbeddedMilvus()
        except SemhashError as exc:
            raise NoMilvus(str(exc)) from None

    def start(self) -> MilvusServer:
        try:
            self.embedded.start()
        except SemhashError as exc:
            raise NoMilvus(str(exc)) from None
        return self

    @property
    def port(self) -> int:
        return self.embedded.port

    @property
    def uri(self) -> str:
        return self.embedded.uri

    def stop(self) -> None:
        self.embedded.stop()

"""Item metadata in any SQL database through SQLAlchemy 2.x (SQLite by default).

One row per indexed item, keyed by the same int64 id as its code in the FAISS index.
`get(ids)` returns rows keyed by id, the metadata-provider interface that search uses.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import BigInteger, Boolean, DateTime, Integer, String, create_engine, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from retrieval.errors import SemhashError


class Base(DeclarativeBase):
    pass


class Item(Base):
    __tablename__ = "items"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    path: Mapped[str] = mapped_column(String, unique=True, index=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    label: Mapped[str] = mapped_column(String, default="")
    title: Mapped[str] = mapped_column(String, default="")
    width: Mapped[int] = mapped_column(Integer, default=0)
    height: Mapped[int] = mapped_column(Integer, default=0)
    mode: Mapped[str] = mapped_column(String(16), default="")
    added_at: Mapped[dt.datetime] = mapped_column(DateTime, default=lambda: _now())
    deleted: Mapped[bool] = mapped_column(Boolean, default=False, index=True)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class ItemRow:
    """A plain, detached copy of one row."""

    id: int
    path: str
    sha256: str
    label: str
    title: str
    width: int
    height: int
    mode: str
    added_at: dt.datetime


def _row(item: Item) -> ItemRow:
    return ItemRow(
        item.id, item.path, item.sha256, item.label, item.title,
        item.width, item.height, item.mode, item.added_at,
    )  # fmt: skip


class MetadataStore:
    """Rows of `items` in the database at `url` (created on first use)."""

    def __init__(self, url: str):
        self.url = url
        try:
            self.engine = create_engine(url)
            Base.metadata.create_all(self.engine)
        except SQLAlchemyError as exc:
            raise SemhashError(f"cannot open the metadata database {url} ({exc}).") from None

    def add(self, rows: Iterable[dict]) -> int:
        """Insert rows (dicts of `Item` columns, each with its id) in one transaction."""
        rows = list(rows)
        with Session(self.engine) as session, session.begin():
            session.add_all(Item(**row) for row in rows)
        return len(rows)

    def get(self, ids: Sequence[int]) -> dict[int, ItemRow]:
        """Rows for `ids` that exist and are not deleted, keyed by id."""
        wanted = [int(i) for i in ids if int(i) >= 0]
        out: dict[int, ItemRow] = {}
        with Session(self.engine) as session:
            for start in range(0, len(wanted), 900):  # stay below SQLite's parameter limit
                chunk = wanted[start : start + 900]
                stmt = select(Item).where(Item.id.in_(chunk), Item.deleted.is_(False))
                out.update((item.id, _row(item)) for item in session.scalars(stmt))
        return out

    def by_path(self, path: str) -> ItemRow | None:
        with Session(self.engine) as session:
            item = session.scalars(select(Item).where(Item.path == path)).first()
            return None if item is None or item.deleted else _row(item)

    def count(self) -> int:
        with Session(self.engine) as session:
            stmt = select(func.count()).select_from(Item).where(Item.deleted.is_(False))
            return session.scalar(stmt) or 0

    def next_id(self) -> int:
        with Session(self.engine) as session:
            top = session.scalar(select(func.max(Item.id)))
        return 0 if top is None else top + 1

    def labels(self) -> dict[int, str]:
        """id -> label for every live item (for evaluation)."""
        with Session(self.engine) as session:
            stmt = select(Item.id, Item.label).where(Item.deleted.is_(False))
            return {row[0]: row[1] for row in session.execute(stmt)}

    def close(self) -> None:
        self.engine.dispose()

"""Item metadata in any SQL database through SQLAlchemy 2.x (SQLite by default).

One row per indexed item, keyed by the same int64 id as its code in the FAISS index.
`get(ids)` returns rows keyed by id, the metadata-provider interface that search uses.
The same queries run on SQLite and PostgreSQL (tests/test_postgres.py runs both).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib.util import find_spec

import numpy as np
from sqlalchemy import (
    URL,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    Integer,
    String,
    bindparam,
    create_engine,
    func,
    make_url,
    select,
    update,
)
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from semantic_hashing.indexer.pathnames import from_db, to_db
from semantic_hashing.retrieval.errors import SemhashError, Unavailable
from semantic_hashing.retrieval.params import MAX_ID

NAMES_KEY = "names"  # state key: file names are stored through `to_db`


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
    size: Mapped[int] = mapped_column(BigInteger, default=-1)  # bytes on disk when read
    mtime: Mapped[float] = mapped_column(Float, default=-1.0)  # modification time when read
    added_at: Mapped[dt.datetime] = mapped_column(DateTime, default=lambda: _now())
    deleted: Mapped[bool] = mapped_column(Boolean, default=False, index=True)


class State(Base):
    """Key/value facts committed together with rows (e.g. the last raw chunk written)."""

    __tablename__ = "state"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def safe_url(url: str) -> str:
    """`url` without its password: what may be written to disk or shown."""
    u = make_url(url)
    if u.password is None:
        return url
    bare = URL.create(u.drivername, u.username, None, u.host, u.port, u.database, u.query)
    return bare.render_as_string(hide_password=False)


def _engine_url(url: str) -> URL:
    """Plain `postgresql://` means psycopg2 to SQLAlchemy; take psycopg 3 (the `postgres`
    extra) instead when only that one is installed."""
    parsed = make_url(url)
    if parsed.drivername == "postgresql" and find_spec("psycopg2") is None and find_spec("psycopg"):
        return parsed.set(drivername="postgresql+psycopg")
    return parsed


NAMES = ("path", "label", "title")  # columns that may hold file or folder names


def _clean(row: dict) -> dict:
    """PostgreSQL text cannot hold NUL characters: store them (everywhere) as U+FFFD; names
    go through `to_db`."""
    out = {k: v.replace("\x00", "\ufffd") if isinstance(v, str) else v for k, v in row.items()}
    for key in NAMES:
        if isinstance(out.get(key), str):
            out[key] = to_db(out[key])
    return out


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
    size: int = -1  # bytes on disk when read (-1: not recorded)
    mtime: float = -1.0  # modification time when read


@dataclass
class ItemColumns:
    """Live rows as columns, by id (`Metadata.columns`)."""

    ids: np.ndarray
    paths: list[str]
    sha256: list[str]
    labels: list[str]
    size: np.ndarray
    mtime: np.ndarray
    pixels: np.ndarray


def _row(item) -> ItemRow:
    """An ItemRow of an `Item`, or of a row selected by `_BY_IDS`."""
    return ItemRow(
        item.id, from_db(item.path), item.sha256, from_db(item.label), from_db(item.title),
        item.width, item.height, item.mode, item.added_at, item.size, item.mtime,
    )  # fmt: skip


# rows by id as plain tuples (no ORM objects): the hot path of every search's answer; the
# ids expand at execution, and the compiled statement is cached
_BY_IDS = select(Item.__table__).where(Item.id.in_(bindparam("ids", expanding=True)))


def _guarded(method):
    """A database error in a call (a damaged file, a server gone) as one sentence."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except SQLAlchemyError as exc:
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:200]
            raise Unavailable(f"the metadata database {self.url} failed ({reason}).") from None

    return wrapper


class MetadataStore:
    """Rows of `items` in the database at `url` (created on first use)."""

    def __init__(self, url: str):
        self.url = url
        try:
            self.url = safe_url(url)
            self.engine = create_engine(_engine_url(url))
            Base.metadata.create_all(self.engine)
            self._escape_old_names()
        except ImportError as exc:
            raise SemhashError(
                f"the database driver for {self.url} is not installed ({exc}); for PostgreSQL "
                "install the `postgres` extra: pip install 'semantic-hashing[postgres]'."
            ) from None
        except SQLAlchemyError as exc:
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            raise SemhashError(
                f"cannot open the metadata database {self.url} ({reason})."
            ) from None

    def _escape_old_names(self) -> None:
        """Rows written before names were escaped: double their backslashes, once."""
        with Session(self.engine) as session, session.begin():
            if (
                session.get(State, NAMES_KEY)
                or not session.scalars(select(Item.id).limit(1)).first()
            ):
                return
            for name in NAMES:
                column = getattr(Item, name)
                session.execute(update(Item).where(column.contains("\\", autoescape=True))
                                .values({name: func.replace(column, "\\", "\\\\")}))  # fmt: skip
            session.merge(State(key=NAMES_KEY, value="escaped"))

    @_guarded
    def is_empty(self) -> bool:
        """True when the database holds no item and no state yet (a new collection's)."""
        with Session(self.engine) as session:
            return session.scalars(select(Item.id).limit(1)).first() is None and (
                session.scalars(select(State.key).limit(1)).first() is None
            )

    @_guarded
    def commit(self, new: Iterable[dict] = (), changed: Iterable[dict] = (),
               state: dict[str, str] | None = None) -> None:  # fmt: skip
        """One transaction: insert `new` rows, update `changed` rows (by id, undeleting
        them) and set `state` keys. This is the commit point of every indexing chunk."""
        with Session(self.engine) as session, session.begin():
            session.add_all(Item(**_clean(row)) for row in new)
            for row in changed:
                item = session.get(Item, row["id"])
                for key, value in _clean(row).items():
                    setattr(item, key, value)
                item.deleted = False
                item.added_at = _now()
            for key, value in {**(state or {}), NAMES_KEY: "escaped"}.items():
                session.merge(State(key=key, value=str(value)))

    @_guarded
    def add(self, rows: Iterable[dict]) -> int:
        """Insert rows (dicts of `Item` columns, each with its id) in one transaction."""
        rows = list(rows)
        self.commit(new=rows)
        return len(rows)

    @_guarded
    def state(self, key: str, default: str | None = None) -> str | None:
        with Session(self.engine) as session:
            found = session.get(State, key)
            return default if found is None else found.value

    @_guarded
    def states(self, prefix: str) -> dict[str, str]:
        """Every state key starting with `prefix`, with its value."""
        with Session(self.engine) as session:
            rows = session.execute(select(State.key, State.value))
            return {k: v for k, v in rows if k.startswith(prefix)}

    @_guarded
    def drop_states(self, keys: Iterable[str]) -> None:
        with Session(self.engine) as session, session.begin():
            for key in keys:
                found = session.get(State, key)
                if found is not None:
                    session.delete(found)

    @_guarded
    def soft_delete(self, ids: Sequence[int]) -> int:
        """Mark rows deleted (they stay for the record, search never returns them)."""
        ids = [int(i) for i in ids]
        with Session(self.engine) as session, session.begin():
            n = 0
            for start in range(0, len(ids), 900):
                stmt = (
                    update(Item)
                    .where(Item.id.in_(ids[start : start + 900]), Item.deleted.is_(False))
                    .values(deleted=True)
                )
                n += session.execute(stmt).rowcount
        return n

    @_guarded
    def live(self) -> dict[str, tuple[int, str, int, float]]:
        """path -> (id, sha256, size, mtime) of every live row."""
        with Session(self.engine) as session:
            stmt = select(Item.path, Item.id, Item.sha256, Item.size, Item.mtime).where(
                Item.deleted.is_(False)
            )
            return {from_db(row[0]): tuple(row[1:]) for row in session.execute(stmt)}

    @_guarded
    def invalidate(self, ids: Sequence[int]) -> None:
        """Forget the content hash of rows so that the next run encodes them again."""
        ids = [int(i) for i in ids]
        with Session(self.engine) as session, session.begin():
            for start in range(0, len(ids), 900):
                stmt = (
                    update(Item)
                    .where(Item.id.in_(ids[start : start + 900]))
                    .values(sha256="", size=-1, mtime=-1.0)
                )
                session.execute(stmt)

    @_guarded
    def stale(self) -> list[ItemRow]:
        """Live rows marked to be encoded again (`invalidate`d), by id."""
        with Session(self.engine) as session:
            stmt = select(Item).where(Item.deleted.is_(False), Item.sha256 == "").order_by(Item.id)
            return [_row(item) for item in session.scalars(stmt)]

    @_guarded
    def ids_under(self, prefix: str) -> list[int]:
        """Live ids whose path is `prefix` or lies below it (exact, case-sensitive match:
        no LIKE, whose wildcards and SQLite's case folding would reach other folders)."""
        prefix = to_db(prefix)
        folder = prefix.rstrip("/") + "/"
        below = func.substr(Item.path, 1, len(folder)) == folder
        with Session(self.engine) as session:
            stmt = select(Item.id).where(Item.deleted.is_(False), (Item.path == prefix) | below)
            return list(session.scalars(stmt))

    @_guarded
    def get(self, ids: Sequence[int]) -> dict[int, ItemRow]:
        """Rows for `ids` that exist and are not deleted, keyed by id."""
        wanted = [int(i) for i in ids if 0 <= int(i) <= MAX_ID]  # others cannot exist
        out: dict[int, ItemRow] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(wanted), 900):  # stay below SQLite's parameter limit
                # `deleted` is checked here, not in SQL: SQLite would then walk the index on
                # `deleted` (every live row) instead of looking the ids up (60k rows: 20 ms)
                rows = conn.execute(_BY_IDS, {"ids": wanted[start : start + 900]})
                out.update((r.id, _row(r)) for r in rows if not r.deleted)
        return out

    @_guarded
    def ids_of_paths(self, paths: Sequence[str]) -> dict[str, int]:
        """path -> id of the rows (deleted ones included) of these paths only."""
        out: dict[str, int] = {}
        with Session(self.engine) as session:
            for start in range(0, len(paths), 900):  # SQLite's parameter limit
                chunk = [to_db(p) for p in paths[start : start + 900]]
                stmt = select(Item.path, Item.id).where(Item.path.in_(chunk))
                out.update((from_db(r[0]), r[1]) for r in session.execute(stmt))
        return out

    @_guarded
    def any_by_path(self) -> dict[str, int]:
        """path -> id of every row, deleted ones included (a path keeps its id for good)."""
        with Session(self.engine) as session:
            return {from_db(r[0]): r[1] for r in session.execute(select(Item.path, Item.id))}

    @_guarded
    def count(self) -> int:
        with Session(self.engine) as session:
            stmt = select(func.count()).select_from(Item).where(Item.deleted.is_(False))
            return session.scalar(stmt) or 0

    @_guarded
    def next_id(self) -> int:
        with Session(self.engine) as session:
            top = session.scalar(select(func.max(Item.id)))
        return 0 if top is None else top + 1

    @_guarded
    def listing(self) -> tuple[list[int], list[str], list]:
        """(ids, paths, added_at) of every live row, by id: what browsing sorts by."""
        with Session(self.engine) as session:
            stmt = (select(Item.id, Item.path, Item.added_at).where(Item.deleted.is_(False))
                    .order_by(Item.id))  # fmt: skip
            rows = session.execute(stmt).all()
        return [r[0] for r in rows], [from_db(r[1]) for r in rows], [r[2] for r in rows]

    @_guarded
    def live_ids(self) -> np.ndarray:
        """Ids of every live row, ascending."""
        with Session(self.engine) as session:
            stmt = select(Item.id).where(Item.deleted.is_(False)).order_by(Item.id)
            return np.fromiter(session.scalars(stmt), dtype=np.int64)

    @_guarded
    def columns(self) -> ItemColumns:
        """Every live row's id, path, sha256, label, size, mtime and pixels, by id, in one
        query of plain columns (building a row object per item took most of a dedup's
        reading at a million items)."""
        with Session(self.engine) as session:
            stmt = (select(Item.id, Item.path, Item.sha256, Item.label, Item.size, Item.mtime,
                           Item.width * Item.height).where(Item.deleted.is_(False))
                    .order_by(Item.id))  # fmt: skip
            rows = session.execute(stmt).all()
        return ItemColumns(np.array([r[0] for r in rows], dtype=np.int64),
                           [from_db(r[1]) for r in rows], [r[2] for r in rows],
                           [from_db(r[3]) for r in rows],
                           np.array([r[4] for r in rows], dtype=np.int64),
                           np.array([r[5] for r in rows], dtype=np.float64),
                           np.array([r[6] or 0 for r in rows], dtype=np.int64))  # fmt: skip

    @_guarded
    def label_counts(self) -> tuple[int, int]:
        """(live rows, distinct labels among them), counted by the database."""
        with Session(self.engine) as session:
            stmt = (select(func.count(), func.count(func.distinct(Item.label)))
                    .where(Item.deleted.is_(False)))  # fmt: skip
            rows, labels = session.execute(stmt).one()
        return int(rows), int(labels)

    @_guarded
    def labels(self) -> dict[int, str]:
        """id -> label for every live item (for evaluation)."""
        with Session(self.engine) as session:
            stmt = select(Item.id, Item.label).where(Item.deleted.is_(False))
            return {row[0]: from_db(row[1]) for row in session.execute(stmt)}

    def close(self) -> None:
        self.engine.dispose()

"""The metadata store on in-memory SQLite: URL handling and exact path prefixes."""

from semantic_hashing.indexer.metadata import MetadataStore, safe_url


def test_safe_url_drops_only_the_password():
    url = "postgresql+psycopg://me:p%40ss@db.local:5433/photos?sslmode=require"
    assert safe_url(url) == "postgresql+psycopg://me@db.local:5433/photos?sslmode=require"
    for kept in ("sqlite:////tmp/a b/metadata.sqlite", "sqlite://", "postgresql://me@h/db"):
        assert safe_url(kept) == kept


def test_ids_under_is_exact_and_case_sensitive():
    meta = MetadataStore("sqlite://")
    paths = ["/d/photos", "/d/photos/a.png", "/d/Photos/b.png", "/d/p_otos/c.png",
             "/d/pXotos/d.png", "/d/photos2/e.png"]  # fmt: skip
    meta.add({"id": i, "path": p, "sha256": "x"} for i, p in enumerate(paths))
    assert sorted(meta.ids_under("/d/photos")) == [0, 1]
    assert sorted(meta.ids_under("/d/photos/")) == [1]
    assert meta.ids_under("/d/p_otos") == [3]
    assert meta.ids_under("/d/p%") == []


def test_nul_characters_are_stored_as_replacement_characters():
    meta = MetadataStore("sqlite://")
    meta.add([{"id": 0, "path": "/a.txt", "sha256": "x", "title": "a\x00b"}])
    assert meta.get([0])[0].title == "a\ufffdb"

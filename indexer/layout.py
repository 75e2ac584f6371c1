"""The file names of a collection folder (see indexer/collection.py for what each holds)."""

SIDECAR, MODEL, INDEX, DB, RAW, LOG, LOCK = (
    "collection.json", "model.pt", "codes.index", "metadata.sqlite", "raw", "index.log", ".lock",
)  # fmt: skip
LITE_FILE = "milvus.db"  # Milvus Lite data of a collection kept in Milvus without --uri
DAMAGED = ".damaged"  # suffix of a file set aside by a repair (kept, never read again)
FORMAT = 2

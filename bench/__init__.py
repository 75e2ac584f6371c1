"""The measuring wing: benchmarks of retrieval quality, indexing, dedup, outliers, scale,
Milvus and the web server, one module per task, with their commands in `bench.cli`.

It may import every part of the product; no product module imports it.
"""

"""`query` answers: search, baselines, dedup, outliers, reconstructions, rendering.

Its public face is `query.api` (`open` and the `Collection` it returns), re-exported by the
top package `semantic_hashing`.
"""

"""The S3 store's ETags: what the artifact watch recognises a seen upload by, from the listing."""

from __future__ import annotations

import hashlib


def test_etags_come_from_the_listing_and_change_with_the_bytes(aws):
    store = aws.store
    store.write_bytes("models/sentiment/1.1.0/model.tar.gz", b"first")
    store.write_bytes("models/sentiment/1.2.0/model.tar.gz", b"second")
    store.write_bytes("data/reviews/dt=2026-10-01/part-0.parquet", b"not listed under models/")

    etags = store.etags("models/")
    # a single-part upload's ETag is the MD5 of its bytes, without S3's quotes
    assert etags == {"models/sentiment/1.1.0/model.tar.gz": hashlib.md5(b"first").hexdigest(),
                     "models/sentiment/1.2.0/model.tar.gz": hashlib.md5(b"second").hexdigest()}
    store.write_bytes("models/sentiment/1.1.0/model.tar.gz", b"replaced")
    assert store.etags("models/sentiment/1.1.0/")["models/sentiment/1.1.0/model.tar.gz"] != etags[
        "models/sentiment/1.1.0/model.tar.gz"]

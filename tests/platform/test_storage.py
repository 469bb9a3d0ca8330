"""One contract for both storage backends: local disk and S3 (moto server)."""

from __future__ import annotations

import hashlib
import io
import random
import socket
import tracemalloc
import uuid
from pathlib import Path

import pytest

from proveo.platform.devservers import S3Server
from proveo.platform.storage import (
    BlobNotFound,
    BlobStorage,
    BlobTooLarge,
    InvalidKey,
    LocalStorage,
    S3Storage,
    StorageUnavailable,
    validate_key,
)

MB = 1024 * 1024


class GeneratedStream:
    """``size`` pseudo-random bytes produced on demand; its length is unknown
    to the reader, as with an upload streamed from a request body."""

    def __init__(self, size: int, seed: int = 7) -> None:
        self._left = size
        self._random = random.Random(seed)
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        n = self._left if size < 0 else min(size, self._left)
        data = self._random.randbytes(n)
        self._left -= n
        self.digest.update(data)
        return data


def _s3(server: S3Server) -> S3Storage:
    return S3Storage(
        server.endpoint,
        server.access_key,
        server.secret_key,
        bucket=f"test-{uuid.uuid4().hex[:16]}",  # created on first use
        secure=False,
        region=server.region,
    )


@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStorage:
    if request.param == "local":
        return LocalStorage(tmp_path / "blobs")
    return _s3(request.getfixturevalue("s3_server"))


def test_streams_an_upload_of_unknown_length(storage: BlobStorage) -> None:
    source = GeneratedStream(12 * MB)
    written = storage.put_stream(
        "quarantine/big.bin", source, length=None, content_type="image/png"
    )

    assert written == 12 * MB
    info = storage.stat("quarantine/big.bin")
    assert (info.key, info.size, info.content_type) == (
        "quarantine/big.bin",
        12 * MB,
        "image/png",
    )
    assert info.etag
    check = hashlib.sha256()
    with storage.open("quarantine/big.bin") as body:
        while chunk := body.read(MB):
            check.update(chunk)
    assert check.hexdigest() == source.digest.hexdigest()


def test_put_bytes_overwrites_and_read_bytes_caps(storage: BlobStorage) -> None:
    storage.put_bytes("images/a.jpg", b"first version", "image/jpeg")
    first = storage.stat("images/a.jpg")
    storage.put_bytes("images/a.jpg", b"second", "image/webp")

    assert storage.read_bytes("images/a.jpg", max_bytes=100) == b"second"
    assert storage.read_bytes("images/a.jpg", max_bytes=6) == b"second"
    with pytest.raises(BlobTooLarge):
        storage.read_bytes("images/a.jpg", max_bytes=5)
    second = storage.stat("images/a.jpg")
    assert (second.size, second.content_type) == (6, "image/webp")
    assert second.etag != first.etag


def test_known_length_reads_exactly_that_much(storage: BlobStorage) -> None:
    stream = io.BytesIO(b"0123456789")
    assert (
        storage.put_stream("k/exact", stream, length=4, content_type="text/plain") == 4
    )
    assert storage.read_bytes("k/exact", 100) == b"0123"

    with pytest.raises(ValueError):
        storage.put_stream(
            "k/short", io.BytesIO(b"abc"), length=10, content_type="text/plain"
        )
    with pytest.raises(BlobNotFound):
        storage.stat("k/short")


def test_empty_blob(storage: BlobStorage) -> None:
    storage.put_bytes("empty", b"", "application/octet-stream")
    assert storage.read_bytes("empty", 10) == b""
    assert storage.stat("empty").size == 0


def test_list_by_prefix_in_key_order(storage: BlobStorage) -> None:
    for key in ["u/2/c.png", "u/1/b.png", "u/1/a.png", "v/d.png", "u10/e.png"]:
        storage.put_bytes(key, key.encode(), "image/png")

    listed = list(storage.list("u/1/"))
    assert [i.key for i in listed] == ["u/1/a.png", "u/1/b.png"]
    assert [i.size for i in listed] == [9, 9]
    assert all(i.last_modified is not None and i.etag for i in listed)
    assert [i.key for i in storage.list("u/")] == [
        "u/1/a.png",
        "u/1/b.png",
        "u/2/c.png",
    ]
    assert [i.key for i in storage.list("u")] == [
        "u/1/a.png",
        "u/1/b.png",
        "u/2/c.png",
        "u10/e.png",
    ]
    assert len(list(storage.list())) == 5
    assert list(storage.list("nothing/")) == []


def test_missing_blobs_and_idempotent_delete(storage: BlobStorage) -> None:
    with pytest.raises(BlobNotFound):
        storage.stat("no/such.png")
    with pytest.raises(BlobNotFound), storage.open("no/such.png"):
        pass
    with pytest.raises(BlobNotFound):
        storage.read_bytes("no/such.png", 10)

    storage.put_bytes("gone/x.png", b"x", "image/png")
    storage.delete("gone/x.png")
    storage.delete("gone/x.png")
    with pytest.raises(BlobNotFound):
        storage.stat("gone/x.png")


def test_delete_many(storage: BlobStorage) -> None:
    keys = [f"batch/{i}.png" for i in range(5)]
    for key in keys:
        storage.put_bytes(key, b"x", "image/png")
    storage.delete_many([*keys[:3], "batch/missing.png"])
    assert [i.key for i in storage.list("batch/")] == keys[3:]
    storage.delete_many([])


BAD_KEYS = [
    "",
    "/etc/passwd",
    "../escape",
    "a/../b",
    "a/./b",
    "..",
    "a//b",
    "a/",
    "a b",
    "ключ",
    "a\\b",
    "a\x00b",
    "x" * 201,
]


@pytest.mark.parametrize("key", BAD_KEYS)
def test_invalid_keys_are_rejected(storage: BlobStorage, key: str) -> None:
    with pytest.raises(InvalidKey):
        storage.put_bytes(key, b"x", "text/plain")
    with pytest.raises(InvalidKey):
        storage.stat(key)
    with pytest.raises(InvalidKey), storage.open(key):
        pass
    with pytest.raises(InvalidKey):
        storage.delete(key)


def test_valid_key_rules() -> None:
    assert validate_key("images/ab12/c-d_e.v2.png") == "images/ab12/c-d_e.v2.png"
    assert validate_key("x" * 200)
    with pytest.raises(InvalidKey):
        list(LocalStorage("/nonexistent").list("../"))


def test_ping(storage: BlobStorage) -> None:
    storage.ping()


# --- backend-specific ----------------------------------------------------------


def test_local_streaming_keeps_memory_bounded(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    tracemalloc.start()
    try:
        storage.put_stream(
            "big", GeneratedStream(12 * MB), length=None, content_type="x/y"
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    print(f"local put_stream of 12 MiB: peak traced memory {peak / MB:.2f} MiB")
    assert peak < 4 * MB


def test_local_writes_leave_no_temporary_files(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    storage.put_bytes("a/b.png", b"png", "image/png")
    with pytest.raises(ValueError):
        storage.put_stream("a/c", io.BytesIO(b"ab"), length=3, content_type="x/y")
    assert list((tmp_path / "tmp").iterdir()) == []
    assert (tmp_path / "objects" / "a" / "b.png").read_bytes() == b"png"


def test_local_key_that_clashes_with_a_directory(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    storage.put_bytes("a/b", b"x", "x/y")
    with pytest.raises(InvalidKey):
        storage.put_bytes("a", b"x", "x/y")
    with pytest.raises(InvalidKey):
        storage.put_bytes("a/b/c", b"x", "x/y")
    with pytest.raises(BlobNotFound):
        storage.stat("a")


def test_local_ping_fails_on_unwritable_root(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")
    with pytest.raises(StorageUnavailable):
        LocalStorage(blocker).ping()


def test_from_settings(tmp_path: Path) -> None:
    local = LocalStorage.from_settings({"storage_dir": str(tmp_path)})
    assert local.root == tmp_path
    s3 = S3Storage.from_settings(
        {
            "s3_endpoint": "http://127.0.0.1:9",
            "s3_access_key": "a",
            "s3_secret_key": "b",
            "s3_bucket": "images",
            "s3_secure": "true",
        }
    )
    assert s3.bucket == "images"
    assert not s3.client._base_url.is_https  # the URL's scheme wins


def test_s3_unreachable_endpoint_fails_fast() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here once closed
    storage = S3Storage(f"127.0.0.1:{port}", "a", "b", "images", secure=False)
    with pytest.raises(StorageUnavailable):
        storage.ping()
    with pytest.raises(StorageUnavailable):
        storage.put_bytes("k", b"x", "x/y")


def test_a_stalled_s3_is_waited_for_once_not_three_times() -> None:
    """A server that takes requests and never answers (frozen, not down)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        storage = S3Storage(
            f"127.0.0.1:{port}", "a", "b", "images", secure=False, read_timeout=0.3
        )
        with pytest.raises(StorageUnavailable):
            storage.stat("k")
        # Every request the client made waits in the backlog: exactly one.
        listener.settimeout(0)
        accepted = []
        while True:
            try:
                accepted.append(listener.accept()[0])
            except BlockingIOError:
                break
        for conn in accepted:
            conn.close()
    assert len(accepted) == 1


def test_s3_creates_its_bucket_on_first_use(s3_server: S3Server) -> None:
    storage = _s3(s3_server)
    assert not s3_server.client().bucket_exists(storage.bucket)
    storage.put_bytes("k", b"x", "x/y")
    assert s3_server.client().bucket_exists(storage.bucket)

"""Blob storage: a small protocol with a local-disk and an S3 implementation.

Both register as ``proveo.storage`` entry points and pass the same contract
tests, so code written against ``BlobStorage`` never learns which one it got.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tempfile
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, BinaryIO, Protocol
from urllib.parse import urlsplit

import urllib3
from minio import Minio
from minio.deleteobjects import DeleteObject
from minio.error import MinioException, S3Error

from proveo.platform.errors import ServiceUnavailable

__all__ = [
    "BlobInfo",
    "BlobNotFound",
    "BlobStorage",
    "BlobTooLarge",
    "InvalidKey",
    "LocalStorage",
    "Readable",
    "S3Storage",
    "StorageError",
    "StorageUnavailable",
    "validate_key",
]

CHUNK = 1024 * 1024
S3_PART_SIZE = 8 * 1024 * 1024  # memory per upload of unknown length ~ 2 parts
MAX_KEY_LENGTH = 200
_KEY_RE = re.compile(r"[A-Za-z0-9._-]+(?:/[A-Za-z0-9._-]+)*")
_PREFIX_RE = re.compile(r"[A-Za-z0-9/._-]*")
_NOT_FOUND_CODES = frozenset({"NoSuchKey", "NoSuchObject", "NotFound"})


class StorageError(Exception):
    """Base class of every storage failure."""


class BlobNotFound(StorageError, LookupError):
    """No blob is stored under the key."""


class InvalidKey(StorageError, ValueError):
    """The key breaks the key rules (see ``validate_key``)."""


class BlobTooLarge(StorageError, ValueError):
    """The blob is larger than the caller allowed."""


class StorageUnavailable(StorageError, ServiceUnavailable):
    """The backend could not be reached or failed; worth retrying later."""


@dataclass(frozen=True, slots=True)
class BlobInfo:
    """What a backend knows about a stored blob.

    ``content_type`` is ``None`` in ``list()`` results (S3 listings do not
    carry it); ``last_modified`` is set by ``list()`` and ``stat()``.
    """

    key: str
    size: int
    content_type: str | None
    etag: str
    last_modified: datetime | None = None


class Readable(Protocol):
    """Anything with ``read(size)`` returning bytes: a file, a request body."""

    def read(self, size: int = -1, /) -> bytes:
        """Return up to ``size`` bytes; ``b""`` at the end."""


class BlobStorage(Protocol):
    """Where uploads and published images live."""

    def put_stream(
        self, key: str, stream: Readable, *, length: int | None, content_type: str
    ) -> int:
        """Store ``stream`` under ``key`` and return the number of bytes written.

        The stream is copied in bounded chunks, never held whole in memory.
        With ``length`` set, exactly that many bytes are read; a shorter
        stream raises ``ValueError`` and stores nothing.
        """

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        """Store ``data`` under ``key``, replacing any previous blob."""

    def open(self, key: str) -> Any:
        """Return a context manager yielding a readable binary stream.

        Raises:
            BlobNotFound: no blob under ``key``.
        """

    def read_bytes(self, key: str, max_bytes: int) -> bytes:
        """Return the whole blob.

        Raises:
            BlobNotFound: no blob under ``key``.
            BlobTooLarge: the blob is longer than ``max_bytes``.
        """

    def stat(self, key: str) -> BlobInfo:
        """Describe the blob under ``key`` (raises ``BlobNotFound``)."""

    def delete(self, key: str) -> None:
        """Delete the blob; deleting a missing key is not an error."""

    def delete_many(self, keys: Iterable[str]) -> None:
        """Delete every key given; missing ones are ignored."""

    def list(self, prefix: str = "") -> Iterator[BlobInfo]:
        """Yield the blobs whose key starts with ``prefix``, in key order."""

    def ping(self) -> None:
        """Raise ``StorageUnavailable`` unless the backend answers (readiness)."""


def validate_key(key: str) -> str:
    """Return ``key`` if it is a safe blob key, else raise ``InvalidKey``.

    Keys are relative slash-separated paths of ``[A-Za-z0-9._-]`` segments,
    at most 200 characters, without ``.`` or ``..`` segments: the same key must
    be a safe file path for the local backend and a plain S3 object name.
    """
    if not isinstance(key, str) or len(key) > MAX_KEY_LENGTH:
        raise InvalidKey(f"invalid blob key {key!r}: empty or too long")
    if not _KEY_RE.fullmatch(key):
        raise InvalidKey(f"invalid blob key {key!r}")
    if any(part in {".", ".."} for part in key.split("/")):
        raise InvalidKey(f"invalid blob key {key!r}: dot segment")
    return key


def _validate_prefix(prefix: str) -> str:
    if len(prefix) > MAX_KEY_LENGTH or not _PREFIX_RE.fullmatch(prefix):
        raise InvalidKey(f"invalid blob key prefix {prefix!r}")
    if ".." in prefix.split("/"):
        raise InvalidKey(f"invalid blob key prefix {prefix!r}: dot segment")
    return prefix


def _flag(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


class _CountingReader:
    """Reads through to ``stream``, counting bytes and stopping at ``limit``."""

    def __init__(self, stream: Readable, limit: int | None) -> None:
        self._stream = stream
        self._left = limit
        self.count = 0
        self.ended = False  # the underlying stream reported end of data

    def read(self, size: int = -1) -> bytes:
        if self._left is not None:
            if self._left <= 0:
                return b""
            size = self._left if size < 0 else min(size, self._left)
        data = self._stream.read(size)
        if not data and size != 0:
            self.ended = True
        self.count += len(data)
        if self._left is not None:
            self._left -= len(data)
        return data


# --- local disk ---------------------------------------------------------------


class LocalStorage:
    """Blobs as files under ``root_dir`` (development and single-node setups).

    Layout: ``objects/<key>`` holds the bytes and ``meta/<key>.json`` the
    content type and MD5 ETag. Writes go to a temporary file in ``tmp/`` and are
    renamed into place, so readers never see half a blob; the metadata is
    renamed first, so a crash leaves at worst metadata without a blob, which
    reads as "not found".
    """

    def __init__(self, root_dir: str | os.PathLike[str]) -> None:
        self.root = Path(root_dir)
        self._objects = self.root / "objects"
        self._meta = self.root / "meta"
        self._tmp = self.root / "tmp"

    @classmethod
    def from_settings(cls, settings: Mapping[str, str]) -> LocalStorage:
        """Build from ``storage_dir``."""
        return cls(settings["storage_dir"])

    def _paths(self, key: str) -> tuple[Path, Path]:
        validate_key(key)
        return self._objects / key, self._meta / f"{key}.json"

    def _temp(self) -> IO[bytes]:
        self._tmp.mkdir(parents=True, exist_ok=True)
        return tempfile.NamedTemporaryFile(dir=self._tmp, prefix="put-", delete=False)

    def _install(self, tmp_path: str, target: Path) -> None:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp_path, target)
        except (NotADirectoryError, IsADirectoryError, FileExistsError) as exc:
            raise InvalidKey(f"key {target} clashes with an existing key") from exc

    def put_stream(
        self, key: str, stream: Readable, *, length: int | None, content_type: str
    ) -> int:
        """Store ``stream`` under ``key``; see ``BlobStorage.put_stream``."""
        data_path, meta_path = self._paths(key)
        reader = _CountingReader(stream, length)
        digest = hashlib.md5(usedforsecurity=False)
        temps: list[str] = []
        try:
            with self._temp() as tmp:
                temps.append(tmp.name)
                while chunk := reader.read(CHUNK):
                    digest.update(chunk)
                    tmp.write(chunk)
            if length is not None and reader.count != length:
                raise ValueError(f"stream ended after {reader.count} of {length} bytes")
            meta = {"content_type": content_type, "etag": digest.hexdigest()}
            with self._temp() as meta_tmp:
                temps.append(meta_tmp.name)
                meta_tmp.write(json.dumps(meta).encode())
            self._install(meta_tmp.name, meta_path)
            self._install(tmp.name, data_path)
        finally:
            for name in temps:
                Path(name).unlink(missing_ok=True)
        return reader.count

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        """Store ``data`` under ``key``."""
        stream = io.BytesIO(data)
        self.put_stream(key, stream, length=len(data), content_type=content_type)

    @contextmanager
    def open(self, key: str) -> Iterator[BinaryIO]:
        """Yield the blob as an open binary file."""
        data_path, _ = self._paths(key)
        try:
            handle = data_path.open("rb")
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError) as exc:
            raise BlobNotFound(key) from exc
        with handle:
            yield handle

    def read_bytes(self, key: str, max_bytes: int) -> bytes:
        """Return the blob's bytes, refusing blobs over ``max_bytes``."""
        with self.open(key) as handle:
            data = handle.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise BlobTooLarge(f"{key} is larger than {max_bytes} bytes")
        return data

    def _info(self, key: str, data_path: Path, meta_path: Path | None) -> BlobInfo:
        try:
            st = data_path.stat()
        except (FileNotFoundError, NotADirectoryError) as exc:
            raise BlobNotFound(key) from exc
        if not data_path.is_file():
            raise BlobNotFound(key)
        content_type: str | None = None
        etag = f"{st.st_size:x}-{st.st_mtime_ns:x}"
        if meta_path is not None:
            try:
                meta = json.loads(meta_path.read_bytes())
                content_type = str(meta["content_type"])
                etag = str(meta["etag"])
            except (OSError, ValueError, KeyError, TypeError):
                content_type = "application/octet-stream"
        modified = datetime.fromtimestamp(st.st_mtime, UTC)
        return BlobInfo(key, st.st_size, content_type, etag, modified)

    def stat(self, key: str) -> BlobInfo:
        """Describe the blob under ``key``."""
        data_path, meta_path = self._paths(key)
        return self._info(key, data_path, meta_path)

    def delete(self, key: str) -> None:
        """Delete the blob (and its metadata); a missing key is fine."""
        data_path, meta_path = self._paths(key)
        for path in (data_path, meta_path):
            with suppress(FileNotFoundError, NotADirectoryError, IsADirectoryError):
                path.unlink()

    def delete_many(self, keys: Iterable[str]) -> None:
        """Delete every key given."""
        for key in keys:
            self.delete(key)

    def list(self, prefix: str = "") -> Iterator[BlobInfo]:
        """Yield blobs under ``prefix`` in key order (content type not read)."""
        _validate_prefix(prefix)
        start = self._objects / prefix.rpartition("/")[0]
        if not start.is_dir():
            return
        found: list[str] = []
        for dirpath, _dirs, files in os.walk(start):
            rel = Path(dirpath).relative_to(self._objects).as_posix()
            base = "" if rel == "." else f"{rel}/"
            found.extend(
                base + name for name in files if (base + name).startswith(prefix)
            )
        for key in sorted(found):
            try:
                info = self._info(key, self._objects / key, None)
            except BlobNotFound:  # deleted while listing
                continue
            yield info

    def ping(self) -> None:
        """Check that the root directory is writable."""
        try:
            self._tmp.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=self._tmp):
                pass
        except OSError as exc:
            raise StorageUnavailable(f"storage directory unusable: {exc}") from exc


# --- S3 -----------------------------------------------------------------------


class S3Storage:
    """Blobs in one S3 bucket through the ``minio`` client.

    The region is always passed so the client never asks the server for the
    bucket location before signing; the HTTP pool has short timeouts and few
    retries so a dead endpoint fails in seconds, not minutes. A request sent
    but not answered in ``read_timeout`` is not retried: the server is stalled,
    and three waits of it would hold the client for minutes.
    """

    def __init__(
        self,
        endpoint: str,
        access_key: str,
        secret_key: str,
        bucket: str,
        secure: bool,
        region: str = "us-east-1",
        *,
        connect_timeout: float = 3.0,
        read_timeout: float = 10.0,
    ) -> None:
        self.bucket = bucket
        self._bucket_ready = False
        self._lock = threading.Lock()
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=connect_timeout, read=read_timeout),
            maxsize=10,
            retries=urllib3.Retry(
                total=2,
                read=0,
                backoff_factor=0.2,
                status_forcelist=(500, 502, 503, 504),
            ),
        )
        self.client = Minio(
            endpoint,
            access_key=access_key,
            secret_key=secret_key,
            secure=secure,
            region=region,
            http_client=http,
        )

    @classmethod
    def from_settings(cls, settings: Mapping[str, str]) -> S3Storage:
        """Build from ``s3_endpoint`` (``host:port`` or a URL), keys and bucket."""
        endpoint = settings["s3_endpoint"]
        secure = _flag(settings.get("s3_secure"), True)
        if "://" in endpoint:
            parts = urlsplit(endpoint)
            secure = parts.scheme == "https"
            endpoint = parts.netloc
        return cls(
            endpoint,
            settings["s3_access_key"],
            settings["s3_secret_key"],
            settings["s3_bucket"],
            secure,
            region=settings.get("s3_region") or "us-east-1",
        )

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Run a client call, mapping transport failures to ``StorageUnavailable``."""
        try:
            return fn(*args, **kwargs)
        except S3Error:
            raise
        except (MinioException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise StorageUnavailable(f"S3 request failed: {exc}") from exc

    def ensure_bucket(self) -> None:
        """Create the bucket unless it exists (once per instance)."""
        if self._bucket_ready:
            return
        with self._lock:
            if self._bucket_ready:
                return
            try:
                if not self._call(self.client.bucket_exists, self.bucket):
                    self._call(self.client.make_bucket, self.bucket)
            except S3Error as exc:
                if exc.code not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
                    raise StorageUnavailable(f"cannot create bucket: {exc}") from exc
            self._bucket_ready = True

    def _s3(self, key: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        self.ensure_bucket()
        try:
            return self._call(fn, self.bucket, *args, **kwargs)
        except S3Error as exc:
            if exc.code in _NOT_FOUND_CODES:
                raise BlobNotFound(key) from exc
            raise StorageUnavailable(f"S3 error on {key!r}: {exc.code}") from exc

    def put_stream(
        self, key: str, stream: Readable, *, length: int | None, content_type: str
    ) -> int:
        """Store ``stream`` under ``key``; multipart when the length is unknown."""
        validate_key(key)
        reader = _CountingReader(stream, length)
        try:
            self._s3(
                key,
                self.client.put_object,
                key,
                reader,
                -1 if length is None else length,
                content_type=content_type,
                part_size=S3_PART_SIZE if length is None else 0,
                num_parallel_uploads=1,  # parallel parts would queue unbounded
            )
        except (StorageUnavailable, ValueError):
            if length is not None and reader.ended and reader.count < length:
                raise ValueError(
                    f"stream ended after {reader.count} of {length} bytes"
                ) from None
            raise
        return reader.count

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        """Store ``data`` under ``key``."""
        stream = io.BytesIO(data)
        self.put_stream(key, stream, length=len(data), content_type=content_type)

    @contextmanager
    def open(self, key: str) -> Iterator[BinaryIO]:
        """Yield the object's HTTP body; the connection is released on exit."""
        validate_key(key)
        response = self._s3(key, self.client.get_object, key)
        try:
            yield response
        finally:
            response.close()
            response.release_conn()

    def read_bytes(self, key: str, max_bytes: int) -> bytes:
        """Return the object's bytes, refusing objects over ``max_bytes``."""
        with self.open(key) as body:
            try:
                data = body.read(max_bytes + 1)
            except urllib3.exceptions.HTTPError as exc:
                raise StorageUnavailable(f"S3 read of {key!r} failed") from exc
        if len(data) > max_bytes:
            raise BlobTooLarge(f"{key} is larger than {max_bytes} bytes")
        return bytes(data)

    def stat(self, key: str) -> BlobInfo:
        """Describe the object under ``key``."""
        validate_key(key)
        obj = self._s3(key, self.client.stat_object, key)
        return BlobInfo(
            key,
            int(obj.size or 0),
            obj.content_type or "application/octet-stream",
            (obj.etag or "").strip('"'),
            obj.last_modified,
        )

    def delete(self, key: str) -> None:
        """Delete the object; S3 treats a missing key as success."""
        validate_key(key)
        with suppress(BlobNotFound):
            self._s3(key, self.client.remove_object, key)

    def delete_many(self, keys: Iterable[str]) -> None:
        """Delete the keys in batches of at most 1000 (the S3 limit)."""
        batch: list[DeleteObject] = []
        for key in keys:
            batch.append(DeleteObject(validate_key(key)))
            if len(batch) == 1000:
                self._delete_batch(batch)
                batch = []
        if batch:
            self._delete_batch(batch)

    def _delete_batch(self, batch: list[DeleteObject]) -> None:
        self.ensure_bucket()
        # remove_objects is lazy: the request is sent while iterating.
        errors = self.client.remove_objects(self.bucket, batch)
        try:
            failed = [
                err
                for err in self._call(list, errors)
                if err.code not in _NOT_FOUND_CODES
            ]
        except S3Error as exc:
            raise StorageUnavailable(f"S3 batch delete failed: {exc.code}") from exc
        if failed:
            raise StorageUnavailable(f"S3 could not delete {len(failed)} object(s)")

    def list(self, prefix: str = "") -> Iterator[BlobInfo]:
        """Yield objects under ``prefix`` in key order."""
        _validate_prefix(prefix)
        self.ensure_bucket()
        objects = self._call(
            self.client.list_objects, self.bucket, prefix=prefix, recursive=True
        )
        while True:
            try:
                obj = self._call(next, objects, None)
            except S3Error as exc:
                raise StorageUnavailable(f"S3 listing failed: {exc.code}") from exc
            if obj is None:
                return
            if obj.is_dir or obj.object_name is None:
                continue
            yield BlobInfo(
                obj.object_name,
                int(obj.size or 0),
                None,
                (obj.etag or "").strip('"'),
                obj.last_modified,
            )

    def ping(self) -> None:
        """Check the endpoint answers and the bucket exists (creating it)."""
        self._bucket_ready = False
        self.ensure_bucket()

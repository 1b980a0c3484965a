"""Fetching the one corpus that is not built in, safely: streamed, checksummed, atomic."""

from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from charrnn_tui.engine.data.corpus import CorpusError
from charrnn_tui.engine.paths import corpora_dir

TINYSHAKESPEARE_URL = (
    "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"
)
TINYSHAKESPEARE_SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"
ENV_TINYSHAKESPEARE_URL = "CHARRNN_TUI_TINYSHAKESPEARE_URL"  # for mirrors and tests

Progress = Callable[[int, int | None], None]  # (bytes done, total or None)
_CHUNK = 1 << 16


def file_sha256(path: Path) -> str | None:
    """Hex sha256 of the file at `path`, or None when it cannot be read."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()


def _stream(url: str, out: BinaryIO, timeout: float, progress: Progress | None) -> str:
    """Copy `url` into the open file `out`; return the sha256 of what arrived."""
    digest = hashlib.sha256()
    with urllib.request.urlopen(url, timeout=timeout) as response:
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        done = 0
        while chunk := response.read(_CHUNK):
            out.write(chunk)
            digest.update(chunk)
            done += len(chunk)
            if progress:
                progress(done, total)
    return digest.hexdigest()


def _reason(error: Exception, timeout: float) -> str:
    """A short, user-facing account of why a download failed."""
    if isinstance(error, urllib.error.HTTPError):
        return f"the server answered HTTP {error.code} {error.reason}"
    if isinstance(error, urllib.error.URLError):  # failed before any byte arrived
        cause = error.reason
        if isinstance(cause, TimeoutError):
            return f"no answer within {timeout:g} s"
        return f"no network ({getattr(cause, 'strerror', None) or cause})"
    if isinstance(error, TimeoutError):
        return f"the server stopped answering for {timeout:g} s"
    if isinstance(error, ValueError):
        return f"bad URL ({error})"
    return getattr(error, "strerror", None) or str(error) or type(error).__name__


def download_verified(
    url: str,
    dest: Path,
    sha256: str,
    *,
    timeout: float = 10.0,
    progress: Progress | None = None,
) -> Path:
    """Download `url` to `dest` only if its sha256 matches; otherwise keep nothing.

    The bytes go to a temporary file beside `dest` and are moved into place
    atomically, so an interrupted or corrupt download never looks like a corpus.
    `timeout` bounds each connect and read, so an offline machine fails fast.
    """
    dest = Path(dest)
    what = dest.stem
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    except OSError as e:
        raise CorpusError(f"could not download {what}: cannot write to {dest.parent} "
                          f"({e.strerror or e})") from None
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                got = _stream(url, out, timeout, progress)
            except (OSError, ValueError, http.client.HTTPException) as e:
                raise CorpusError(f"could not download {what}: {_reason(e, timeout)}") from None
            out.flush()
            os.fsync(out.fileno())
        if got != sha256.lower():
            raise CorpusError(f"download of {what} failed its checksum (got {got[:16]}..., "
                              f"expected {sha256[:16]}...); nothing was kept")
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return dest


def tinyshakespeare_path(home: str | os.PathLike | None = None) -> Path:
    return corpora_dir(home) / "tinyshakespeare.txt"


def ensure_tinyshakespeare(
    home: str | os.PathLike | None = None,
    *,
    url: str | None = None,
    timeout: float = 10.0,
    progress: Progress | None = None,
) -> Path:
    """The verified tinyshakespeare file, downloading it only when missing or corrupt.

    The URL is `url`, else $CHARRNN_TUI_TINYSHAKESPEARE_URL, else the upstream one.
    """
    path = tinyshakespeare_path(home)
    if file_sha256(path) == TINYSHAKESPEARE_SHA256:
        return path
    url = url or os.environ.get(ENV_TINYSHAKESPEARE_URL) or TINYSHAKESPEARE_URL
    return download_verified(url, path, TINYSHAKESPEARE_SHA256, timeout=timeout,
                             progress=progress)

"""Text corpora: decoding, vocabulary, compact encoding and the train/validation split."""

from __future__ import annotations

import codecs
import hashlib
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from charrnn_tui.engine.errors import CharRNNError

MAX_VOCAB = 65_535
MAX_CORPUS_BYTES = 1 << 30  # a corpus costs ~5× its size in memory while it is encoded
TRAIN_FRACTION = 0.9  # the rest is the validation split, held out from training
_CHUNK = 1 << 22  # characters encoded per step; bounds the temporary uint32 buffer
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


class CorpusError(CharRNNError):
    """A corpus that cannot be used, with a one-line reason fit for the user."""


@dataclass
class Corpus:
    """An encoded corpus: `data[i]` indexes `chars`; the text itself is not kept."""

    name: str
    chars: list[str]
    data: np.ndarray
    encoding: str = "utf-8"
    sha256: str = ""
    counts: np.ndarray | None = None  # occurrences of each vocabulary character
    notices: list[str] = field(default_factory=list)
    files: int = 1  # text files read: more than one for a folder

    def __len__(self) -> int:
        return int(self.data.shape[0])

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def split(self, train_fraction: float = TRAIN_FRACTION) -> tuple[np.ndarray, np.ndarray]:
        """First `train_fraction` for training, the rest for validation (views, no copy)."""
        cut = split_at(len(self), train_fraction)
        return self.data[:cut], self.data[cut:]

    def decode(self, ids: np.ndarray | list[int]) -> str:
        return "".join(self.chars[int(i)] for i in ids)

    def info(self, source: str) -> dict:
        """What a model file records about the corpus it was trained on."""
        return {"name": self.name, "source": source, "sha256": self.sha256,
                "chars": len(self), "encoding": self.encoding}

    def most_common(self, n: int = 10) -> list[tuple[str, int]]:
        if self.counts is None:
            return []
        order = np.argsort(-self.counts, kind="stable")[:n]
        return [(self.chars[i], int(self.counts[i])) for i in order]


def split_at(n: int, train_fraction: float = TRAIN_FRACTION) -> int:
    """Where the training split of `n` characters ends and the validation split begins.

    The one definition: the trainer, the corpus facts and Insight's held-out slice agree.
    """
    return int(n * train_fraction)


def decode_bytes(
    raw: bytes, encoding: str | None = None, *, source: str = "text"
) -> tuple[str, str]:
    """Decode `raw` to text and name the encoding used.

    A BOM picks UTF-8/16/32; otherwise strict UTF-8. Anything else needs an
    explicit `encoding`, because guessing Latin-1 silently would mangle text.
    """
    if encoding:
        try:
            return raw.decode(encoding), encoding
        except LookupError:
            raise CorpusError(f"{source}: unknown encoding {encoding!r}") from None
        except UnicodeDecodeError as e:
            raise CorpusError(f"{source}: not valid {encoding} at byte {e.start}") from None
    for bom, name in _BOMS:
        if raw.startswith(bom):
            try:
                return raw.decode(name), name
            except UnicodeDecodeError as e:
                raise CorpusError(f"{source}: has a {name} BOM but is not valid {name} "
                                  f"at byte {e.start}") from None
    if b"\x00" in raw[:8192]:
        raise CorpusError(f"{source}: looks binary (contains NUL bytes), not text")
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as e:
        raise CorpusError(
            f"{source}: not valid UTF-8 at byte {e.start}; "
            "give its encoding (for example --encoding latin-1)"
        ) from None


def _size_limit_error(what: Path, size: int) -> CorpusError:
    return CorpusError(f"{what}: {size:,} bytes is over the corpus size limit of "
                       f"{MAX_CORPUS_BYTES:,} bytes "
                       "(charrnn_tui.engine.data.corpus.MAX_CORPUS_BYTES)")


def _read(path: Path) -> bytes:
    """A regular file's bytes. Checked with stat first, so a FIFO is never opened (that
    would block) and /dev/zero never read (that would not end)."""
    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError
        if not stat.S_ISREG(info.st_mode):
            raise CorpusError(f"{path}: not a regular file (a device, FIFO or socket); "
                              "give a text file or a folder of them")
        if info.st_size > MAX_CORPUS_BYTES:
            raise _size_limit_error(path, info.st_size)
        return path.read_bytes()
    except FileNotFoundError:
        raise CorpusError(f"{path}: no such file") from None
    except PermissionError:
        raise CorpusError(f"{path}: permission denied") from None
    except IsADirectoryError:
        raise CorpusError(f"{path}: is a folder") from None
    except OSError as e:
        raise CorpusError(f"{path}: cannot read ({e.strerror or e})") from None


def _text_chunks(text: str) -> Iterator[np.ndarray]:
    for start in range(0, len(text), _CHUNK):
        piece = text[start:start + _CHUNK].encode("utf-32-le", "surrogatepass")
        yield np.frombuffer(piece, dtype=np.uint32)


def encode_text(text: str, name: str = "text", *, encoding: str = "utf-8") -> Corpus:
    """Build the vocabulary and the compact encoding of `text`, chunk by chunk."""
    if not text:
        raise CorpusError(f"{name}: is empty")
    seen: set[int] = set()
    for cps in _text_chunks(text):
        seen.update(np.unique(cps).tolist())
        if len(seen) > MAX_VOCAB:
            raise CorpusError(f"{name}: more than {MAX_VOCAB:,} distinct characters")
    if len(seen) < 2:
        raise CorpusError(f"{name}: has only one distinct character "
                          f"({chr(next(iter(seen)))!r}); there is nothing to predict")
    codepoints = np.array(sorted(seen), dtype=np.uint32)
    dtype = np.uint8 if len(codepoints) <= 256 else np.uint16
    data = np.empty(len(text), dtype=dtype)
    counts = np.zeros(len(codepoints), dtype=np.int64)
    pos = 0
    for cps in _text_chunks(text):
        ids = np.searchsorted(codepoints, cps)
        data[pos:pos + len(ids)] = ids
        counts += np.bincount(ids, minlength=len(codepoints))  # per chunk: bincount widens
        pos += len(ids)
    digest = hashlib.sha256()
    for start in range(0, len(text), _CHUNK):  # chunked: a full copy would cost 1 byte/char
        digest.update(text[start:start + _CHUNK].encode("utf-8", "surrogatepass"))
    return Corpus(name=name, chars=[chr(c) for c in codepoints.tolist()], data=data,
                  encoding=encoding, sha256=digest.hexdigest(), counts=counts)


def _visible_files(folder: Path) -> Iterator[Path]:
    """Files under `folder`, leaving out hidden files and hidden folders (.git, .venv…),
    which are not the user's text; hidden folders are not even walked."""
    for root, dirs, names in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in names:
            path = Path(root) / name
            if not name.startswith(".") and path.is_file():
                yield path


def _folder_text(folder: Path, encoding: str | None) -> tuple[list[str], str, list[str]]:
    """The texts of the readable files in `folder`, the encoding used, and what was skipped."""
    parts: list[str] = []
    notices: list[str] = []
    used = encoding or "utf-8"
    files = sorted(_visible_files(folder))
    total = 0
    for path in files:
        try:
            raw = _read(path)
        except CorpusError as e:  # a file that is unreadable alone does not stop the rest
            notices.append(f"skipped {e}")
            continue
        total += len(raw)
        if total > MAX_CORPUS_BYTES:
            raise _size_limit_error(folder, total)
        try:
            text, used_here = decode_bytes(raw, encoding, source=str(path))
        except CorpusError as e:
            notices.append(f"skipped {e}")
            continue
        if text:
            parts.append(text)
            used = used_here
    if not parts:
        raise CorpusError(f"{folder}: no readable text files"
                          + (f" ({len(notices)} skipped)" if notices else ""))
    return parts, used, notices


def load_path(path: Path, *, encoding: str | None = None) -> Corpus:
    """Load a text file or a folder of text files (built-ins: `sources.load_corpus`)."""
    if path.is_dir():
        parts, used, notices = _folder_text(path, encoding)
        corpus = encode_text("\n".join(parts), path.name or str(path), encoding=used)
        corpus.notices, corpus.files = notices, len(parts)
        return corpus
    text, used = decode_bytes(_read(path), encoding, source=str(path))
    return encode_text(text, path.name, encoding=used)


def min_corpus_chars(batch_size: int, seq_len: int) -> int:
    """Smallest training split that yields one chunk: each stream needs seq_len + 1 chars."""
    return batch_size * (seq_len + 1)

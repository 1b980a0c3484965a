"""The user's saved models: one folder per model name holding last and best files."""

from __future__ import annotations

import errno
import fcntl
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from charrnn_tui.engine.checkpoint import Checkpoint
from charrnn_tui.engine.errors import CharRNNError
from charrnn_tui.engine.models import count_parameters
from charrnn_tui.engine.paths import models_dir
from charrnn_tui.engine.storage import modelfile
from charrnn_tui.engine.storage.modelfile import SUFFIX, ModelFileError

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
TAGS = ("last", "best")


class StoreError(CharRNNError):
    """A store operation refused, with a reason fit for the user."""


@dataclass
class ModelInfo:
    name: str
    path: Path
    describe: str
    params: int
    corpus: str
    val_loss: float | None
    best_val: float | None
    steps: int
    updated: str
    read_only: bool = False
    error: str | None = None  # set when the file exists but does not load


def check_name(name: str) -> str:
    if not NAME_RE.match(name or ""):
        raise StoreError(f"bad model name {name!r}: use 1–64 letters, digits, '.', '_' or '-', "
                         "starting with a letter or digit")
    return name


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class ModelStore:
    def __init__(self, root: Path | None = None, *, read_only_models: list[Path] = ()):
        self.root = Path(root) if root is not None else models_dir()
        self.root.mkdir(parents=True, exist_ok=True)
        self.read_only = {p.stem: Path(p) for p in read_only_models}
        self._claims: dict[str, object] = {}  # name → open lock file held by this process
        self.clean_stale_temp_files()

    def clean_stale_temp_files(self) -> int:
        """Remove temp files left by saves whose process died (a live one may still write)."""
        removed = 0
        for tmp in self.root.glob("*/.*.tmp-*"):
            try:
                pid = int(tmp.name.rsplit("-", 1)[1])
            except ValueError:
                continue
            if not _pid_alive(pid):
                tmp.unlink(missing_ok=True)
                removed += 1
        return removed

    def folder(self, name: str) -> Path:
        return self.root / check_name(name)

    def file(self, name: str, tag: str = "last") -> Path:
        return self.folder(name) / f"{tag}{SUFFIX}"

    def exists(self, name: str) -> bool:
        return name in self.read_only or self.file(name).exists()

    def names(self) -> list[str]:
        own = sorted(p.name for p in self.root.iterdir()
                     if p.is_dir() and (p / f"last{SUFFIX}").exists())
        return sorted(self.read_only) + own

    def resolve(self, ref: str | os.PathLike) -> Path:
        """A model name (`NAME` or `NAME:best`), or a path to a model file."""
        ref = str(ref)
        name, _, tag = ref.partition(":")
        if name in self.read_only and tag in ("", "last"):
            return self.read_only[name]
        if NAME_RE.match(name) and tag in ("",) + TAGS:
            path = self.file(name, tag or "last")
            if path.exists():
                return path
        path = Path(ref).expanduser()
        if path.is_file():
            return path
        raise StoreError(f"no model named {ref!r} (see `charrnn-tui models`) and no such file")

    def load(self, ref: str | os.PathLike) -> Checkpoint:
        return modelfile.load(self.resolve(ref))[0]

    def info(self, name: str) -> ModelInfo:
        path = self.resolve(name)
        try:
            meta = modelfile.read_meta(path)
        except ModelFileError as e:
            return ModelInfo(name, path, "?", 0, "", None, None, 0, "", error=str(e))
        st = meta["state"]
        return ModelInfo(
            name=name, path=path, describe=meta["spec"].describe(),
            params=count_parameters(meta["spec"]), corpus=meta["corpus"].get("name", ""),
            val_loss=st.get("last_val"), best_val=st.get("best_val"), steps=st.get("step", 0),
            updated=meta["updated"], read_only=name in self.read_only,
        )

    def list(self) -> list[ModelInfo]:
        return [self.info(n) for n in self.names()]

    def _acquire(self, name: str):
        """An exclusive, non-blocking lock on a model's folder, held by an open file."""
        folder = self.folder(name)
        folder.mkdir(parents=True, exist_ok=True)
        lock = open(folder / ".lock", "a+")  # noqa: SIM115 - held beyond this function
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            lock.close()
            if e.errno in (errno.EAGAIN, errno.EACCES):
                raise StoreError(f"model {name!r} is in use by another charrnn-tui process; "
                                 "pick another name or stop that one first") from None
            raise
        return lock

    @contextmanager
    def _locked(self, name: str) -> Iterator[None]:
        """Serialise writers of one model across processes; a second writer is told."""
        if name in self._claims:  # this store already holds it for a training session
            yield
            return
        lock = self._acquire(name)
        try:
            yield
        finally:
            lock.close()

    def create(self, name: str, *, force: bool = False) -> None:
        """Claim a name for a training session; never replaces a model without `force`.

        The claim (a lock) lasts until `release`, so a second process training under the
        same name is told at once instead of the two overwriting each other.
        """
        if name in self.read_only:
            raise StoreError(f"{name!r} is a built-in, read-only model; pick another name")
        if self.exists(name) and not force:
            raise StoreError(f"a model named {name!r} exists; choose another name, "
                             "resume it, or replace it explicitly (--force)")
        self.claim(name)
        if force:
            for tag in TAGS:
                self.file(name, tag).unlink(missing_ok=True)

    def claim(self, name: str) -> None:
        """Hold `name` for this process (e.g. while resuming it) until `release`."""
        if name not in self._claims:
            self._claims[name] = self._acquire(name)

    def release(self, name: str) -> None:
        lock = self._claims.pop(name, None)
        if lock is not None:
            lock.close()

    def save(self, ckpt: Checkpoint, name: str, tag: str = "last") -> Path:
        """Write `tag` of model `name` atomically (the owner's autosave path)."""
        if name in self.read_only:
            raise StoreError(f"{name!r} is a built-in, read-only model")
        if tag not in TAGS:
            raise StoreError(f"tag must be one of {TAGS}")
        path = self.file(name, tag)
        created = None
        if path.exists():
            try:
                created = modelfile.read_meta(path)["created"]
            except ModelFileError:
                created = None
        with self._locked(name):
            modelfile.save(path, ckpt, created=created)
        return path

    def _refuse_claimed(self, name: str) -> None:
        if name in self._claims:
            raise StoreError(f"model {name!r} is being trained; stop training first")

    def remove(self, name: str) -> None:
        if name in self.read_only:
            raise StoreError(f"{name!r} is a built-in, read-only model")
        self._refuse_claimed(name)
        folder = self.folder(name)
        if not folder.exists():
            raise StoreError(f"no model named {name!r}")
        with self._locked(name):
            shutil.rmtree(folder)

    def rename(self, old: str, new: str) -> None:
        if old in self.read_only:
            raise StoreError(f"{old!r} is a built-in, read-only model")
        self._refuse_claimed(old)
        if self.exists(new):
            raise StoreError(f"a model named {new!r} already exists")
        src, dst = self.folder(old), self.folder(new)
        if not src.exists():
            raise StoreError(f"no model named {old!r}")
        with self._locked(old):
            os.rename(src, dst)

    def export(self, ref: str, dest: Path, *, force: bool = False,
               weights_only: bool = False) -> Path:
        """Copy a model file out; `weights_only` drops the optimizer state (a third the size)."""
        src = self.resolve(ref)
        dest = Path(dest).expanduser()
        if dest.is_dir():
            base = Path(ref.partition(":")[0]).name.removesuffix(SUFFIX)
            dest = dest / f"{base}{SUFFIX}"
        if dest.exists() and not force:
            raise StoreError(f"{dest} exists; use --force to replace it")
        if weights_only:
            ckpt, meta = modelfile.load(src)
            ckpt.optim_tensors, ckpt.optim_meta = {}, {}
            modelfile.save(dest, ckpt, created=meta["created"])
        else:
            modelfile.write_atomic(dest, src.read_bytes())
        return dest

    def import_file(self, src: Path, name: str | None = None) -> str:
        """Copy a validated model file into the store; refuses anything that fails a check."""
        src = Path(src).expanduser()
        modelfile.load(src)  # validate fully before anything is written
        name = check_name(name or src.stem)
        self.create(name)
        with self._locked(name):
            modelfile.write_atomic(self.file(name), src.read_bytes())
        return name

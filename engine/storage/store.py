"""The user's saved models: one folder per model name holding last and best files."""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock, Timeout

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


class NameInUse(StoreError):
    """Another process holds the name (it is training or saving that model right now)."""


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
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):  # fullmatch: no "x\n"
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
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as e:  # a file, /dev/null, a read-only parent…
            raise StoreError(f"cannot use {self.root} for saved models: "
                             f"{e.strerror or e}; give another --home") from None
        self.read_only = {p.stem: Path(p) for p in read_only_models}
        self._claims: dict[str, FileLock] = {}  # name → lock held by this process
        self.clean_stale_temp_files()

    def clean_stale_temp_files(self) -> int:
        """Remove temp files left by saves whose process died (a live one may still write)."""
        removed = 0
        for tmp in self.root.glob("*/.*.tmp-*"):
            try:
                pid = int(tmp.name.rsplit("-", 1)[1])
                if tmp.is_file() and not tmp.is_symlink() and not _pid_alive(pid):
                    tmp.unlink(missing_ok=True)
                    removed += 1
            except (ValueError, OverflowError, OSError):  # not ours, or a read-only folder
                continue
        return removed

    def folder(self, name: str) -> Path:
        return self.root / check_name(name)

    def file(self, name: str, tag: str = "last") -> Path:
        return self.folder(name) / f"{tag}{SUFFIX}"

    def exists(self, name: str) -> bool:
        """A name is taken by a built-in or by either file: a run killed before its first
        `last` save leaves only `best`, and that best must not be overwritten."""
        return name in self.read_only or any(self.file(name, t).exists() for t in TAGS)

    def names(self) -> list[str]:
        own = sorted(p.name for p in self.root.iterdir() if NAME_RE.fullmatch(p.name)
                     and p.is_dir() and any((p / f"{t}{SUFFIX}").exists() for t in TAGS))
        return sorted(self.read_only) + own

    def best_val(self, name: str) -> float | None:
        """The validation loss recorded in `name`'s best file, the bar a new best must beat;
        None when there is no readable best file."""
        if name in self.read_only or not self.file(name, "best").is_file():
            return None
        try:
            state = modelfile.read_meta(self.file(name, "best"))["state"]
        except ModelFileError:
            return None
        return state.get("best_val", state.get("last_val"))

    def resolve(self, ref: str | os.PathLike) -> Path:
        """A model name (`NAME` or `NAME:best`), or a path to a model file."""
        ref = str(ref)
        name, _, tag = ref.partition(":")
        if name in self.read_only and tag in ("", "last"):
            return self.read_only[name]
        if NAME_RE.fullmatch(name) and tag in ("",) + TAGS:
            for t in (tag,) if tag else TAGS:  # NAME alone: last, else a best-only model
                path = self.file(name, t)
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

    def _acquire(self, name: str) -> FileLock:
        """An exclusive, non-blocking lock on a model's folder, which the OS frees when the
        process ends (flock where there is one, the Windows lock call on Windows)."""
        folder = self.folder(name)
        if folder.is_symlink():  # writing through it would write outside the store
            raise StoreError(f"{folder} is a symbolic link; charrnn-tui writes only inside "
                             "its store")
        # thread_local=False: a claim taken on the UI thread is released by the training one
        lock = FileLock(folder / ".lock", timeout=0, thread_local=False)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            lock.acquire()
        except Timeout:
            raise NameInUse(f"model {name!r} is in use by another charrnn-tui process; "
                             "pick another name or stop that one first") from None
        except OSError as e:
            raise StoreError(f"cannot write to {folder}: {e.strerror or e}") from None
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
            lock.release()

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
                path = self.file(name, tag)
                if path.is_dir() and not path.is_symlink():
                    self.release(name)
                    raise StoreError(f"{path} is a folder, not a model file; remove it first")
                path.unlink(missing_ok=True)

    def claim(self, name: str, *, wait: float = 0.0) -> None:
        """Hold `name` for this process (e.g. while resuming it) until `release`.

        `wait` seconds are granted to a holder on its way out: an elastic restart may start
        while the killed attempt it replaces is still exiting (the kernel frees the lock when
        that process ends).
        """
        deadline = time.monotonic() + wait
        while name not in self._claims:
            try:
                self._claims[name] = self._acquire(name)
            except StoreError:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.2)

    def release(self, name: str) -> None:
        lock = self._claims.pop(name, None)
        if lock is not None:
            lock.release()

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
        if folder.is_symlink():  # remove the link itself; never lock or delete through it
            folder.unlink()
            return
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
        if dst.exists() or dst.is_symlink():  # a folder in use, or left over by a crash
            raise StoreError(f"{dst} exists (in use, or left over); pick another name")
        with self._locked(old):
            try:
                os.rename(src, dst)
            except OSError as e:
                raise StoreError(f"cannot rename {old!r}: {e.strerror or e}") from None

    def export(self, ref: str, dest: Path, *, force: bool = False,
               weights_only: bool = False) -> Path:
        """Copy a model file out; `weights_only` drops the optimizer state (a third the size)."""
        src = self.resolve(ref)
        in_store = src.parent.parent == self.root
        if in_store and not src.resolve().is_relative_to(self.root.resolve()):
            raise StoreError(f"{src} links outside the store; export copies only the store's "
                             "own model files")
        ckpt, meta = modelfile.load_arrays(src)  # validate before anything is written
        dest = Path(dest).expanduser()
        if dest.is_dir():
            base = Path(ref.partition(":")[0]).name.removesuffix(SUFFIX)
            dest = dest / f"{base}{SUFFIX}"
        if dest.exists() and not force:
            raise StoreError(f"{dest} exists; use --force to replace it")
        if weights_only:
            ckpt.optim_tensors, ckpt.optim_meta = {}, {}
            modelfile.save(dest, ckpt, created=meta["created"])
        else:
            modelfile.write_atomic(dest, src.read_bytes())
        return dest

    def import_file(self, src: Path, name: str | None = None) -> str:
        """Copy a validated model file into the store; refuses anything that fails a check."""
        src = Path(src).expanduser()
        modelfile.load_arrays(src)  # validate fully before anything is written
        name = check_name(name or src.stem)
        self.create(name)
        with self._locked(name):
            modelfile.write_atomic(self.file(name), src.read_bytes())
        return name

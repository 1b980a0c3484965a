"""The model store: names, create/save/rename/remove/export/import, read-only models, locks."""

from __future__ import annotations

import json

import pytest
import safetensors.torch
from helpers import kit
from helpers.lock_holder import lock_held

from charrnn_tui.engine.paths import models_dir
from charrnn_tui.engine.storage import modelfile
from charrnn_tui.engine.storage.modelfile import ModelFileError
from charrnn_tui.engine.storage.store import ModelStore, StoreError, check_name


@pytest.fixture
def store(tmp_path) -> ModelStore:
    return ModelStore(tmp_path / "models")


def _save(store: ModelStore, name: str, kind: str = "torch", step: int = 5, tag="last"):
    ckpt = kit.checkpoint(kind)
    ckpt.state.step = step
    ckpt.state.last_val = 1.25
    return store.save(ckpt, name, tag)


def test_default_root_follows_the_home_env(data_home):
    s = ModelStore()
    assert s.root == data_home / "models" == models_dir()
    assert s.root.is_dir()


def test_save_list_info_and_resolve(store):
    path = _save(store, "alpha", step=7)
    _save(store, "alpha", step=3, tag="best")
    _save(store, "beta", kind="numpy")
    assert path == store.root / "alpha" / "last.safetensors"
    assert store.names() == ["alpha", "beta"]
    assert store.exists("alpha") and not store.exists("gamma")
    info = {i.name: i for i in store.list()}
    assert info["alpha"].steps == 7 and info["alpha"].val_loss == 1.25
    assert info["alpha"].describe == "torch/lstm 2×16" and info["alpha"].params > 0
    assert info["beta"].describe.startswith("numpy/rnn") and not info["beta"].read_only
    assert store.resolve("alpha:best") == store.root / "alpha" / "best.safetensors"
    assert store.load("alpha:best").state.step == 3
    assert store.load("alpha").state.step == 7
    assert store.resolve(str(path)) == path  # a plain path works too
    with pytest.raises(StoreError, match="no model named 'gamma'"):
        store.resolve("gamma")
    with pytest.raises(StoreError, match="tag must be"):
        store.save(kit.checkpoint("torch"), "alpha", "worst")


def test_save_keeps_the_created_time(store):
    path = _save(store, "m")
    created = modelfile.read_meta(path)["created"]
    _save(store, "m", step=9)
    meta = modelfile.read_meta(path)
    assert meta["created"] == created and meta["state"]["step"] == 9


@pytest.mark.parametrize("bad", ["", "-x", ".hidden", "a/b", "../up", "a b", "x" * 65, "é"])
def test_bad_names_are_refused(store, bad):
    with pytest.raises(StoreError, match="bad model name"):
        check_name(bad)
    with pytest.raises(StoreError, match="bad model name"):
        store.save(kit.checkpoint("torch"), bad)
    assert check_name("ok.name_1-x") == "ok.name_1-x"


def test_create_refuses_an_existing_name_unless_forced(store):
    store.create("fresh")  # a free name is fine
    _save(store, "taken")
    _save(store, "taken", tag="best")
    with pytest.raises(StoreError, match="a model named 'taken' exists") as err:
        store.create("taken")
    assert "--force" in str(err.value)
    assert store.load("taken").state.step == 5  # untouched
    store.create("taken", force=True)
    assert not store.file("taken").exists() and not store.file("taken", "best").exists()
    assert not store.exists("taken")


def test_rename(store):
    _save(store, "old")
    _save(store, "other")
    store.rename("old", "new")
    assert store.names() == ["new", "other"]
    assert store.load("new").state.step == 5
    with pytest.raises(StoreError, match="already exists"):
        store.rename("new", "other")
    with pytest.raises(StoreError, match="no model named 'ghost'"):
        store.rename("ghost", "spirit")
    with pytest.raises(StoreError, match="bad model name"):
        store.rename("new", "../escape")
    assert store.names() == ["new", "other"]


def test_remove(store):
    _save(store, "doomed")
    store.remove("doomed")
    assert store.names() == [] and not (store.root / "doomed").exists()
    with pytest.raises(StoreError, match="no model named 'doomed'"):
        store.remove("doomed")


def test_export(store, tmp_path):
    src = _save(store, "m")
    dest = tmp_path / "out" / "copy.safetensors"
    assert store.export("m", dest) == dest
    assert dest.read_bytes() == src.read_bytes()
    _save(store, "m", step=8)
    with pytest.raises(StoreError, match="exists; use --force"):
        store.export("m", dest)
    assert modelfile.load(dest)[0].state.step == 5
    store.export("m", dest, force=True)
    assert modelfile.load(dest)[0].state.step == 8
    folder = tmp_path / "outdir"
    folder.mkdir()
    assert store.export("m", folder) == folder / "m.safetensors"


def test_export_of_a_file_path_into_a_folder_lands_in_the_folder(store, tmp_path):
    src = tmp_path / "elsewhere" / "x.safetensors"
    modelfile.save(src, kit.checkpoint("torch"))
    folder = tmp_path / "outdir"
    folder.mkdir()
    dest = store.export(str(src), folder)
    assert dest.parent == folder and dest.name == "x.safetensors"
    assert modelfile.load(dest)[0].spec.impl == "torch"


def test_import_validates_and_refuses_taken_names(store, tmp_path):
    outside = tmp_path / "shared.safetensors"
    modelfile.save(outside, kit.checkpoint("scratch"))
    assert store.import_file(outside) == "shared"
    assert store.load("shared").spec.impl == "scratch"
    with pytest.raises(StoreError, match="exists"):
        store.import_file(outside)
    assert store.import_file(outside, "again") == "again"
    broken = tmp_path / "broken.safetensors"
    data = bytearray(outside.read_bytes())
    broken.write_bytes(bytes(data[: len(data) // 2]))
    with pytest.raises(ModelFileError):
        store.import_file(broken)
    with pytest.raises(StoreError, match="bad model name"):
        store.import_file(outside, "no/slash")
    assert store.names() == ["again", "shared"]
    assert not (store.root / "broken").exists()


def test_read_only_models(tmp_path):
    shipped = tmp_path / "ship" / "pretrained.safetensors"
    modelfile.save(shipped, kit.checkpoint("torch"))
    store = ModelStore(tmp_path / "models", read_only_models=[shipped])
    assert store.names() == ["pretrained"]
    assert store.resolve("pretrained") == shipped
    assert store.info("pretrained").read_only
    assert store.load("pretrained").spec.impl == "torch"
    before = shipped.read_bytes()
    for action in (lambda: store.remove("pretrained"),
                   lambda: store.rename("pretrained", "mine"),
                   lambda: store.save(kit.checkpoint("torch"), "pretrained"),
                   lambda: store.create("pretrained"),
                   lambda: store.create("pretrained", force=True)):
        with pytest.raises(StoreError, match="read-only"):
            action()
    _save(store, "mine")
    with pytest.raises(StoreError, match="already exists"):
        store.rename("mine", "pretrained")
    assert shipped.read_bytes() == before
    assert store.names() == ["pretrained", "mine"]


def test_second_process_holding_the_lock_blocks_saves(store):
    _save(store, "busy")
    lock = store.root / "busy" / ".lock"
    with lock_held(lock) as holder:
        with pytest.raises(StoreError, match=r"'busy' is (being saved|in use) by another"):
            _save(store, "busy", step=99)
        with pytest.raises(StoreError, match="by another"):
            store.remove("busy")
        with pytest.raises(StoreError, match="by another"):
            store.rename("busy", "elsewhere")
        _save(store, "idle")  # other models are not affected
        holder.stdin.close()
        holder.wait(10)
    assert store.load("busy").state.step == 5
    _save(store, "busy", step=99)  # free again once the holder is gone
    assert store.load("busy").state.step == 99


def test_a_claimed_name_is_held_until_released(tmp_path):
    """A training session claims its name: another process (here: another store, which
    holds its own lock file descriptor) is told at once instead of overwriting it."""
    first = ModelStore(tmp_path / "models")
    second = ModelStore(tmp_path / "models")
    first.create("run")
    _save(first, "run", step=1)  # the owner saves freely while holding the claim
    with pytest.raises(StoreError, match="by another"):
        second.save(kit.checkpoint("torch"), "run")
    with pytest.raises(StoreError, match="exists"):
        second.create("run")
    with pytest.raises(StoreError, match="by another"):
        second.create("run", force=True)
    assert first.load("run").state.step == 1  # force did not delete the owner's files
    first.release("run")
    second.save(kit.checkpoint("torch"), "run")
    second.claim("run")
    with pytest.raises(StoreError, match="by another"):
        first.claim("run")
    second.release("run")
    first.claim("run")
    first.release("run")


def test_list_reports_broken_files_instead_of_failing(store):
    _save(store, "good")
    (store.root / "bad").mkdir()
    (store.root / "bad" / "last.safetensors").write_bytes(b"\x00" * 4)
    infos = {i.name: i for i in store.list()}
    assert infos["good"].error is None
    assert infos["bad"].error and "size check" in infos["bad"].error
    with pytest.raises(ModelFileError):
        store.load("bad")


def test_list_survives_metadata_of_the_wrong_json_type(store):
    """A file whose corpus metadata is valid JSON but not an object must not crash `list`."""
    path = _save(store, "odd")
    tensors = safetensors.torch.load_file(str(path))
    _, meta = modelfile.read_header(path)
    meta = dict(meta) | {"corpus": json.dumps(["not", "an", "object"])}
    path.write_bytes(safetensors.torch.save(tensors, metadata=meta))
    assert modelfile.read_header(path)[1]["corpus"] == '["not", "an", "object"]'
    infos = {i.name: i for i in store.list()}  # must not raise
    assert "odd" in infos  # listed (as broken or not), never an exception

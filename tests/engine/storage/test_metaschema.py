"""Issue 19, item 1: one schema for the metadata; a bad file is refused naming the field,
is listed as unreadable, and never breaks `models list` or the app; free text is not markup."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import kit
from helpers.mutate import join, set_field, split, with_meta

from charrnn_tui.cli import main
from charrnn_tui.engine.storage import modelfile
from charrnn_tui.engine.storage.metaschema import json_depth, parse_json
from charrnn_tui.engine.storage.modelfile import ModelFileError
from charrnn_tui.engine.storage.store import ModelStore

DEEP = "[" * 100_000 + "]" * 100_000


@pytest.fixture(scope="module")
def good_raw(tmp_path_factory) -> bytes:
    """A small trained torch model, with Adam state, as file bytes."""
    return kit.trained_file_bytes(tmp_path_factory.mktemp("good"), "torch-lstm")


BAD_FIELDS = [  # (field, value, what the message must name)
    ("corpus.name", 0, "corpus.name"),
    ("state.step", "many", "state.step"),
    ("state.last_val", "1.5", "state.last_val"),
    ("state.last_val", [1.5], "state.last_val"),
    ("state.val_history", False, "state.val_history"),
    ("state.lr_scale", -1, "state.lr_scale"),
    ("config.seed", [1, 2], "config.seed"),
    ("config.train_fraction", [], "config.train_fraction"),
    ("config.batch", True, "config.batch"),
    ("optimizer.param_groups", 1.5, "optimizer.param_groups"),
    ("optimizer.param_groups.0.betas", [2, 2], "optimizer.param_groups[0].betas"),
    ("spec.vocab", {"a": 1, "b": 2}, "spec.vocab"),
    ("spec.dropout", "0.1", "spec.dropout"),
    ("spec.weight_dropout", 1.5, "spec.weight_dropout"),
    ("spec.embed_dropout", "x", "spec.embed_dropout"),
    ("config.ema", 1.0, "config.ema"),
    ("config.warmup_steps", -3, "config.warmup_steps"),
    ("state", [], "state must be a JSON object"),
    ("state", DEEP, "nested deeper"),
    ("corpus", "{" * 50_000, "nested deeper"),
    ("format_version", "-1", "bad format version"),
    ("format_version", "1e3", "bad format version"),
    ("updated", "x" * 1000, "updated"),
]


@pytest.mark.parametrize("field,value,needle", BAD_FIELDS,
                         ids=[f"{f}={str(v)[:12]}" for f, v, _ in BAD_FIELDS])
def test_bad_field_is_refused_naming_it_by_load_read_meta_and_import(good_raw, tmp_path, field,
                                                                     value, needle):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(set_field(good_raw, field, value))
    for read in (modelfile.load, modelfile.read_meta,
                 lambda p: ModelStore(tmp_path / "store").import_file(p)):
        with pytest.raises(ModelFileError) as err:
            read(path)
        assert needle in str(err.value) and "bad.safetensors" in str(err.value)


def test_header_nested_100000_deep_is_refused_without_recursion_error(good_raw, tmp_path):
    header, data = split(good_raw)
    text = '{"x": ' + DEEP + ", " + __import__("json").dumps(header)[1:]
    path = tmp_path / "deep.safetensors"
    path.write_bytes(join(text, data))
    with pytest.raises(ModelFileError, match="header is nested deeper"):
        modelfile.load(path)
    assert json_depth('["[[[", {"a": "]]]\\"[["}]') == 2
    assert parse_json('{"a": [1]}', "x") == {"a": [1]}


def test_unknown_keys_are_ignored(good_raw, tmp_path):
    raw = set_field(good_raw, "state.future_counter", {"nested": [1, 2]})
    raw = with_meta(raw, lambda m: m.__setitem__("future_field", "[1]"))
    path = tmp_path / "newer.safetensors"
    path.write_bytes(raw)
    ckpt, meta = modelfile.load(path)
    assert "future_counter" not in meta["state"] and ckpt.state.step == 2


def _store_with(home: Path, files: dict[str, bytes]) -> None:
    for name, raw in files.items():
        (home / "models" / name).mkdir(parents=True)
        (home / "models" / name / "last.safetensors").write_bytes(raw)


def test_models_list_shows_bad_files_as_unreadable_and_free_text_literally(good_raw, tmp_path,
                                                                            capsys):
    home = tmp_path / "home"
    _store_with(home, {
        "markup": set_field(set_field(good_raw, "corpus.name", "[/]"), "updated", "[/x]"),
        "draft": set_field(good_raw, "corpus.name", "notes [draft].txt"),
        "broken": set_field(good_raw, "state.step", "many"),
        "deep": set_field(good_raw, "state", DEEP),
    })
    assert main(["--home", str(home), "models", "list"]) == 0
    out = capsys.readouterr().out
    assert "notes [draft].txt" in out and "[/]" in out and "[/x]" in out
    assert out.count("unreadable") == 2 and "state.step" in out
    assert main(["--home", str(home), "models", "show", "draft"]) == 0
    assert "notes [draft].txt" in capsys.readouterr().out
    assert main(["--home", str(home), "models", "show", "broken"]) == 2
    assert "state.step" in capsys.readouterr().err


@pytest.mark.usefixtures("no_shipped_models", "no_gpu")
async def test_app_starts_with_bad_and_markup_files_in_the_store(good_raw, data_home):
    from rich.text import Text
    from textual.widgets import DataTable

    from charrnn_tui.app import CharRNNApp

    _store_with(data_home, {
        "markup": set_field(set_field(good_raw, "corpus.name", "[/]"), "updated", "[/x]"),
        "broken": set_field(good_raw, "state.val_history", False),
    })
    app = CharRNNApp()
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("f5")
        await pilot.pause()
        table = app.query_one("#models-table", DataTable)
        cells = [str(c) if isinstance(c, Text) else c for row in range(table.row_count)
                 for c in table.get_row_at(row)]
        assert "unreadable" in cells and "[/]" in cells
        app.notify("a [/] name")  # plain text: no MarkupError
        await pilot.pause()

"""Each command, run in a fresh interpreter, loads only what it needs: no UI library for
any command, no rich live display outside the app, and no torch for the commands that do
not compute with it (--help, models, sample on a CPU, completion)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import kit

from charrnn_tui.resources import open_store

_RUN = """
import json, sys
from charrnn_tui.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as e:
    code = e.code
print("\\n" + json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""

_HELPS = [["--help"], ["--version"], *([c, "--help"] for c in (
    "train", "sample", "eval", "race", "models", "completion")),
    *(["models", a, "--help"] for a in ("list", "show", "rename", "rm", "export", "import",
                                         "compare"))]

TORCH_FREE = [
    *_HELPS,
    ["models"], ["models", "list"], ["models", "show", "mine"],
    ["models", "rename", "mine", "yours"], ["models", "rm", "mine"],
    ["models", "export", "mine", "{tmp}/out.safetensors"],
    ["models", "export", "mine", "{tmp}/small.safetensors", "--weights-only"],
    ["models", "import", "{tmp}/file.safetensors", "--name", "imported"],
    ["models", "compare", "shakespeare", "mine", "--svg", "{tmp}/chart.svg"],
    ["sample", "shakespeare", "--length", "40", "--rng-seed", "1"],
    ["sample", "mine", "--length", "20", "--n", "3", "--seed-text", "ROMEO: " * 4],
    ["sample", "shakespeare", "--length", "20", "--beam", "2", "--json"],
    ["sample", "shakespeare", "--length", "20", "--html", "{tmp}/s.html", "--svg",
     "{tmp}/s.svg", "--neuron", "cell:1:27"],
    ["completion", "bash"], ["completion", "zsh"], ["completion", "fish"],
]
WITH_TORCH = [
    ["eval", "shakespeare", "{tmp}/text.txt"],
    ["train", "{tmp}/text.txt", "--impl", "numpy", "--hidden", "8", "--batch", "2", "--seq",
     "8", "--max-steps", "2", "--json"],
]


@pytest.fixture
def place(tmp_path: Path) -> Path:
    """A data home holding `mine` (a copy of the shipped model), a model file outside the
    store and a small text."""
    store = open_store(None)
    store.export("shakespeare", tmp_path / "file.safetensors")
    store.import_file(tmp_path / "file.safetensors", "mine")
    kit.write_text(tmp_path / "text.txt")
    return tmp_path


def _loaded(argv: list[str], tmp: Path) -> tuple[int, set[str]]:
    argv = [a.format(tmp=tmp) for a in argv]
    done = subprocess.run([sys.executable, "-c", _RUN, *argv], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result["code"], set(result["modules"])


def _check(argv: list[str], tmp: Path, *, torch: bool) -> None:
    code, loaded = _loaded(argv, tmp)
    assert code in (0, None), (argv, code)
    assert "charrnn_tui.cli" in loaded  # the command really ran in that interpreter
    ui = {m for m in loaded if m.split(".")[0] in ("textual", "textual_plotext")}
    assert not ui, (argv, sorted(ui)[:5])
    assert "rich.live" not in loaded, argv
    assert ("torch" in loaded) == torch, argv


@pytest.mark.parametrize("argv", TORCH_FREE, ids=" ".join)
def test_a_torch_free_command_loads_neither_torch_nor_the_ui(argv, place):
    _check(argv, place, torch=False)


@pytest.mark.parametrize("argv", WITH_TORCH, ids=lambda a: a[0])
def test_a_computing_command_loads_torch_but_not_the_ui(argv, place):
    _check(argv, place, torch=True)

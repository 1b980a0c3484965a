"""A write that fails part-way (a full disk, a file-size limit) never costs a saved file.

The failure is real, not mocked: each case runs in a child process whose RLIMIT_FSIZE is
smaller than what it writes, with SIGXFSZ ignored, so `write` fails with EFBIG exactly as
it fails with ENOSPC on a full disk.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import kit

from charrnn_tui.cli import main
from charrnn_tui.engine.storage import modelfile

resource = pytest.importorskip("resource")  # POSIX only: there is no RLIMIT_FSIZE elsewhere

TINY = ["--impl", "torch", "--cell", "lstm", "--layers", "1", "--hidden", "16", "--embed",
        "8", "--batch", "4", "--seq", "8", "--precision", "fp32", "--device", "cpu",
        "--threads", "1"]


def _limited(limit: int):
    """A preexec_fn: files of the child may grow to `limit` bytes; a longer write fails."""
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of death by signal
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def _run(code: str, limit: int, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          timeout=120, preexec_fn=_limited(limit),
                          env=os.environ | {"PYTHONDONTWRITEBYTECODE": "1"})


def _strays(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if ".tmp-" in p.name]


def test_a_failed_write_keeps_the_old_file_whole_and_leaves_no_temp_file(tmp_path):
    path = tmp_path / "m.safetensors"
    old = kit.trained_file_bytes(tmp_path, "torch-lstm")
    path.write_bytes(old)
    code = ("import sys; from pathlib import Path\n"
            "from charrnn_tui.engine.storage.atomic import write_atomic\n"
            "try:\n    write_atomic(Path(sys.argv[1]), bytes(int(sys.argv[2])))\n"
            "except OSError as e:\n    print(e.errno); sys.exit(3)\n")
    done = _run(code, len(old) // 2, str(path), str(len(old)))
    assert done.returncode == 3, done.stderr
    assert int(done.stdout) == 27  # EFBIG: the write itself failed, not something before it
    assert path.read_bytes() == old
    modelfile.load(path)  # still loads: checksum, schema and shapes all pass
    assert _strays(tmp_path) == []


def test_a_training_whose_saves_fail_exits_non_zero_in_one_line_and_keeps_the_old_model(
        tmp_path, capsys):
    home = tmp_path / "home"
    corpus = kit.write_text(tmp_path / "tiny.txt")
    assert main(["--home", str(home), "train", str(corpus), "--name", "m", "--max-steps", "2",
                 "--json", *TINY]) == 0
    capsys.readouterr()
    folder = home / "models" / "m"
    old = (folder / "last.safetensors").read_bytes()
    code = "import sys; from charrnn_tui.cli import main; sys.exit(main(sys.argv[1:]))"
    done = _run(code, len(old) // 2, "--home", str(home), "train", "--resume", "m",
                "--max-steps", "4", "--json", "--threads", "1")
    assert done.returncode == 1, done.stderr
    assert done.stdout == ""  # never "saved"
    lines = [line for line in done.stderr.splitlines() if "could not be saved" in line]
    assert len(lines) == 1 and "File too large" in lines[0], done.stderr
    assert "Traceback" not in done.stderr
    assert (folder / "last.safetensors").read_bytes() == old
    assert modelfile.load(folder / "last.safetensors")[0].state.step == 2
    assert _strays(folder) == []

    # with room again, the same command saves: nothing was left behind to get in the way
    assert main(["--home", str(home), "train", "--resume", "m", "--max-steps", "2",
                 "--json", "--threads", "1"]) == 0
    assert json.loads(capsys.readouterr().out)["steps"] == 4


def test_the_session_and_recent_files_survive_a_failed_write(tmp_path):
    from charrnn_tui.recent import recent_sources, remember_source
    from charrnn_tui.session import Session, load_session, save_session

    config = tmp_path / "session.json"
    save_session(Session(tab="playground", model="m"), config)
    remember_source(str(tmp_path), "builtin:tinyshakespeare")
    old_session, old_recent = config.read_bytes(), recent_sources(str(tmp_path))
    code = ("import sys; from pathlib import Path\n"
            "from charrnn_tui.recent import remember_source\n"
            "from charrnn_tui.session import Session, save_session\n"
            "remember_source(sys.argv[2], 'x' * 4000)\n"  # swallowed: not worth a message
            "try:\n    save_session(Session(corpus='y' * 4000), Path(sys.argv[1]))\n"
            "except OSError:\n    sys.exit(3)\n")
    done = _run(code, 100, str(config), str(tmp_path))
    assert done.returncode == 3, done.stderr
    assert config.read_bytes() == old_session
    session, notice = load_session(config)
    assert notice is None and session.model == "m"
    assert recent_sources(str(tmp_path)) == old_recent
    assert _strays(tmp_path) == []

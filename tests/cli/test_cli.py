"""The headless CLI: train/sample/eval/models, in-process and as a real subprocess."""

from __future__ import annotations

import io
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import kit
from helpers.cli import run_cli
from helpers.pickle_bomb import raw_pickle

from charrnn_tui.cli import eval as eval_command
from charrnn_tui.cli.common import UserError
from charrnn_tui.engine.data.corpus import CorpusError
from charrnn_tui.engine.errors import CharRNNError, ConfigError
from charrnn_tui.engine.models import restore_model
from charrnn_tui.engine.paths import ENV_HOME
from charrnn_tui.engine.storage import modelfile
from charrnn_tui.engine.storage.modelfile import ModelFileError
from charrnn_tui.engine.storage.store import ModelStore, StoreError
from charrnn_tui.engine.training.evaluate import mean_cross_entropy, window_cross_entropy
from charrnn_tui.engine.training.presets import IMPL_DEFAULTS
from charrnn_tui.engine.training.vocab import VocabError

SMALL = ["--cell", "lstm", "--layers", "1", "--hidden", "16", "--batch", "4", "--seq", "8"]
RESULT_KEYS = {"val_loss", "val_bpc", "chars_per_s", "steps", "seconds", "params", "model"}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One small trained model shared by the read-only command tests."""
    base = tmp_path_factory.mktemp("cli")
    # The corpus path is recorded in the file, so it sets the header length. Steer clear of
    # lengths whose first byte is 0x80, which modelfile mistakes for a pickle (a bug with
    # its own test in test_modelfile.py), so these tests check what they are about.
    for folder in ("c", "c" * 9, "c" * 17):  # 8 more bytes each time
        home = base / folder / "home"
        (base / folder).mkdir()
        corpus = kit.write_text(base / folder / "tiny.txt")
        code, out, err = _cli(home, "train", str(corpus), "--impl", "torch", *SMALL,
                              "--max-steps", "30", "--json", "--name", "m",
                              "--precision", "fp32")
        assert code == 0, err
        if (home / "models" / "m" / "last.safetensors").read_bytes()[0] != 0x80:
            break
    return home, corpus, json.loads(out.splitlines()[-1])


def _cli(home: Path, *argv: str) -> tuple[int, str, str]:
    """Run the CLI in this process on `home`, capturing what it prints."""
    return run_cli("--home", str(home), *argv)


def _subprocess(home: Path, *argv: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = os.environ | {"OMP_NUM_THREADS": "1", ENV_HOME: str(home / "env")}
    return subprocess.run([sys.executable, "-m", "charrnn_tui", "--home", str(home), *argv],
                          capture_output=True, text=True, timeout=timeout, env=env)


def _store(home: Path) -> ModelStore:
    return ModelStore(home / "models")


# --- train ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("impl", "extra"), [
    ("torch", SMALL),
    ("scratch", SMALL),
    ("numpy", ["--hidden", "16", "--batch", "4", "--seq", "8"]),
])
def test_train_json_result(tmp_path, data_home, impl, extra):
    corpus = kit.write_text(tmp_path / "tiny.txt")
    code, out, err = _cli(tmp_path / "home", "train", str(corpus), "--impl", impl, *extra,
                          "--max-steps", "20", "--json")
    assert code == 0, err
    lines = out.strip().splitlines()
    assert len(lines) == 1
    result = json.loads(lines[-1])
    assert RESULT_KEYS <= set(result)
    assert result["steps"] == 20 and result["reason"] == "steps"
    assert 0 < result["val_loss"] < math.log(len(kit.ALPHABET)) + 0.5
    assert result["val_bpc"] == pytest.approx(result["val_loss"] / math.log(2))
    assert result["chars_per_s"] > 0 and result["seconds"] >= 0 and result["params"] > 0
    name = result["model"]
    cell = "rnn" if impl == "numpy" else "lstm"
    assert name == f"tiny-{cell}-1x16"
    ckpt = _store(tmp_path / "home").load(name)
    assert ckpt.spec.impl == impl and ckpt.spec.hidden == 16 and ckpt.state.step == 20
    assert ckpt.corpus["source"] == str(corpus.resolve())
    assert Path(result["path"]) == tmp_path / "home" / "models" / name / "last.safetensors"
    assert not data_home.exists()  # --home was honoured, not the home the environment names


def test_train_as_a_real_subprocess(tmp_path):
    corpus = kit.write_text(tmp_path / "tiny.txt")
    proc = _subprocess(tmp_path / "home", "train", str(corpus), "--impl", "torch", *SMALL,
                       "--max-steps", "20", "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert RESULT_KEYS <= set(result) and result["steps"] == 20
    assert modelfile.load(Path(result["path"]))[0].state.step == 20


def test_second_train_gets_a_unique_name(tmp_path):
    corpus = kit.write_text(tmp_path / "tiny.txt")
    args = ("train", str(corpus), "--impl", "numpy", "--hidden", "8", "--batch", "2",
            "--seq", "8", "--max-steps", "2", "--json")
    names = [json.loads(_cli(tmp_path, *args)[1])["model"] for _ in range(2)]
    assert names == ["tiny-rnn-1x8", "tiny-rnn-1x8-2"]


def test_existing_name_without_force_exits_2(tmp_path):
    corpus = kit.write_text(tmp_path / "tiny.txt")
    args = ("train", str(corpus), "--impl", "numpy", "--hidden", "8", "--batch", "2",
            "--seq", "8", "--max-steps", "2", "--json", "--name", "mine")
    assert _cli(tmp_path, *args)[0] == 0
    before = _store(tmp_path).file("mine").read_bytes()
    code, out, err = _cli(tmp_path, *args)
    assert code == 2 and out == ""
    assert err.startswith("charrnn-tui: ") and "'mine' exists" in err and "--force" in err
    assert err.count("\n") == 1
    assert _store(tmp_path).file("mine").read_bytes() == before
    code, out, _ = _cli(tmp_path, *args, "--force")
    assert code == 0 and json.loads(out)["model"] == "mine"


def test_force_does_not_delete_the_old_model_when_training_cannot_start(tmp_path):
    corpus = kit.write_text(tmp_path / "tiny.txt")
    base = ("train", str(corpus), "--impl", "numpy", "--hidden", "8", "--seq", "8",
            "--max-steps", "2", "--json", "--name", "keep")
    assert _cli(tmp_path, *base, "--batch", "2")[0] == 0
    code, _, err = _cli(tmp_path, *base, "--batch", "1000", "--force")  # corpus too small
    assert code == 2 and "needs at least" in err
    assert _store(tmp_path).load("keep").state.step == 2, "--force deleted the old model"


def test_resume_continues_the_step_counter(trained, tmp_path):
    home, corpus, first = trained
    # work on a copy so the shared model stays as it was
    copy_home = tmp_path / "home"
    src = home / "models" / "m" / "last.safetensors"
    dst = copy_home / "models" / "m" / "last.safetensors"
    dst.parent.mkdir(parents=True)
    dst.write_bytes(src.read_bytes())
    code, out, err = _cli(copy_home, "train", "--resume", "m", "--max-steps", "10", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["model"] == "m" and result["steps"] == first["steps"] + 10 == 40
    assert _store(copy_home).load("m").state.step == 40
    assert result["val_loss"] < math.log(len(kit.ALPHABET))
    # resuming into another name leaves the original alone
    code, out, err = _cli(copy_home, "train", "--resume", "m", "--name", "m2",
                          "--max-steps", "3", "--json")
    assert code == 0, err
    assert json.loads(out)["steps"] == 43
    assert _store(copy_home).load("m").state.step == 40


@pytest.mark.parametrize(("setup", "needle"), [
    ("missing", "no such file"),
    ("empty", "is empty"),
    ("latin1", "not valid UTF-8 at byte"),
    ("binary", "binary"),
    ("tiny", "needs at least"),
])
def test_bad_corpus_exits_2_with_one_line(tmp_path, setup, needle):
    path = tmp_path / f"{setup}.txt"
    if setup == "empty":
        path.write_bytes(b"")
    elif setup == "latin1":
        path.write_bytes("caf\xe9".encode("latin-1") * 50)
    elif setup == "binary":
        path.write_bytes(b"\x00\x01" * 50)
    elif setup == "tiny":
        path.write_text("abcab", encoding="utf-8")
    code, out, err = _cli(tmp_path / "home", "train", str(path), "--impl", "numpy",
                          "--max-steps", "2", "--json")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("charrnn-tui: ") and needle in err
    assert "Traceback" not in err


def test_bad_corpus_in_a_subprocess_has_no_traceback(tmp_path):
    proc = _subprocess(tmp_path / "home", "train", str(tmp_path / "nope.txt"), "--json")
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert "nope.txt: no such file" in proc.stderr


def test_numpy_with_lstm_is_refused(tmp_path):
    corpus = kit.write_text(tmp_path / "tiny.txt")
    code, _, err = _cli(tmp_path, "train", str(corpus), "--impl", "numpy", "--cell", "lstm",
                        "--max-steps", "2")
    assert code == 2 and "only the vanilla 'rnn' cell" in err


def test_every_engine_refusal_is_a_charrnn_error():
    """The CLI prints these in one line; it catches CharRNNError, not every ValueError."""
    for error in (CorpusError, ConfigError, ModelFileError, StoreError, VocabError, UserError):
        assert issubclass(error, CharRNNError), error


def test_a_bug_is_not_reported_as_a_user_error(tmp_path, monkeypatch):
    """A plain ValueError from a bug keeps its traceback instead of becoming exit code 2."""
    def bug(args):
        raise ValueError("a bug, not a refusal")

    monkeypatch.setattr(eval_command, "run", bug)
    with pytest.raises(ValueError, match="a bug"):
        _cli(tmp_path, "eval", "m", "t.txt")


def test_sigint_during_train_saves_and_exits_130(tmp_path):
    corpus = kit.write_text(tmp_path / "tiny.txt", kit.TEXT * 4)
    home = tmp_path / "home"
    env = os.environ | {"OMP_NUM_THREADS": "1", ENV_HOME: str(home)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "charrnn_tui", "--home", str(home), "train", str(corpus),
         "--impl", "torch", *SMALL, "--time-budget", "120", "--eval-every", "0.3",
         "--json", "--name", "interrupted"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        for _ in range(50):  # "step N: val ..." on stderr once training runs
            line = proc.stderr.readline()
            if not line or line.startswith("step "):
                break
        assert line.startswith("step "), line
        time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "interrupted" in err
    result = json.loads(out.strip().splitlines()[-1])
    assert result["reason"] == "interrupted" and result["steps"] > 0
    ckpt = modelfile.load(home / "models" / "interrupted" / "last.safetensors")[0]
    assert ckpt.state.step == result["steps"]
    assert list((home / "models").glob("*/.*.tmp-*")) == []


# --- sample ---------------------------------------------------------------------------------

def test_sample_is_reproducible_with_an_rng_seed(trained):
    home = trained[0]
    code, out, err = _cli(home, "sample", "m", "--length", "50", "--rng-seed", "1")
    assert code == 0, err
    assert out.startswith("\n") and out.endswith("\n")
    body = out[1:-1]
    assert len(body) == 50 and set(body) <= set(kit.ALPHABET)
    assert _cli(home, "sample", "m", "--length", "50", "--rng-seed", "1")[1] == out
    assert _cli(home, "sample", "m", "--length", "50", "--rng-seed", "2")[1] != out


def test_sample_min_p(trained):
    home = trained[0]
    argmax = _cli(home, "sample", "m", "--length", "30", "--argmax", "--seed-text", "the")[1]
    # min-p 1 keeps only the likeliest character: argmax, whatever the temperature
    code, out, err = _cli(home, "sample", "m", "--length", "30", "--min-p", "1",
                          "--temperature", "2", "--rng-seed", "4", "--seed-text", "the")
    assert code == 0, err
    assert out == argmax
    with pytest.raises(SystemExit) as refused:  # argparse refuses it, naming the flag
        _cli(home, "sample", "m", "--min-p", "1.5")
    assert refused.value.code == 2


def test_sample_preset(trained):
    from charrnn_tui.engine.generation.sampler import SamplingParams
    from charrnn_tui.sampling_presets import save_preset

    home = trained[0]
    save_preset(str(home), "greedy", SamplingParams(argmax=True, ban="q"))
    argmax = _cli(home, "sample", "m", "--length", "30", "--argmax", "--ban", "q",
                  "--seed-text", "the")[1]
    code, out, err = _cli(home, "sample", "m", "--length", "30", "--preset", "greedy",
                          "--seed-text", "the")
    assert code == 0, err
    assert out == argmax
    # a flag given too wins over the preset
    code, out, _ = _cli(home, "sample", "m", "--length", "30", "--preset", "greedy",
                        "--ban", "e", "--seed-text", "the")
    assert code == 0 and "e" not in out[3:] and out != argmax
    code, _, err = _cli(home, "sample", "m", "--preset", "nope")
    assert code == 2 and "no sampling preset 'nope' (saved: 'greedy')" in err


def test_sample_argmax_seed_text_and_unknown_chars(trained):
    home = trained[0]
    code, out, err = _cli(home, "sample", "m", "--length", "20", "--argmax",
                          "--seed-text", "the Q☃")
    assert code == 0
    assert out.startswith("the Q☃") and len(out) == len("the Q☃") + 20 + 1
    assert "never saw" in err and "'Q'" in err and "'☃'" in err
    again = _cli(home, "sample", "m", "--length", "20", "--argmax", "--seed-text", "the Q☃")[1]
    assert again == out


def test_sample_path_and_best_tag(trained, tmp_path):
    home = trained[0]
    path = home / "models" / "m" / "last.safetensors"
    by_path = _cli(home, "sample", str(path), "--length", "10", "--rng-seed", "3")[1]
    by_name = _cli(home, "sample", "m", "--length", "10", "--rng-seed", "3")[1]
    assert by_path == by_name
    code, _, err = _cli(home, "sample", "nothing-here", "--length", "5")
    assert code == 2 and "no model named 'nothing-here'" in err


def test_pickle_model_path_is_refused(tmp_path):
    marker = tmp_path / "PWNED"
    pt = tmp_path / "evil.pt"
    pt.write_bytes(raw_pickle(marker))
    for argv in (("sample", str(pt), "--length", "5"),
                 ("eval", str(pt), str(kit.write_text(tmp_path / "t.txt"))),
                 ("models", "import", str(pt))):
        code, out, err = _cli(tmp_path / "home", *argv)
        assert code == 2, argv
        assert "pickle" in err and err.count("\n") == 1
    assert not marker.exists()


# --- eval -----------------------------------------------------------------------------------

def test_eval_prints_json(trained, tmp_path):
    home, corpus, _ = trained
    code, out, err = _cli(home, "eval", "m", str(corpus))
    assert code == 0, err
    result = json.loads(out)
    assert result["chars"] == len(kit.TEXT) and result["unknown_chars"] == []
    assert result["bits_per_char"] == pytest.approx(result["nats_per_char"] / math.log(2))
    ckpt = _store(home).load("m")
    expect = mean_cross_entropy(restore_model(ckpt), kit.corpus().data)
    assert result["nats_per_char"] == pytest.approx(expect, rel=1e-6)
    other = tmp_path / "other.txt"
    other.write_text("the cat XX sat", encoding="utf-8")
    code, out, err = _cli(home, "eval", "m", str(other))
    result = json.loads(out)
    assert code == 0 and result["unknown_chars"] == ["X"] and result["chars"] == 12
    assert "1 character(s) the model never saw" in err


# --- models ---------------------------------------------------------------------------------

def test_models_list_show_rename_export_import_rm(trained, tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # rich truncates cells to fit 80 columns otherwise
    src_home = trained[0]
    home = tmp_path / "home"
    (home / "models" / "m").mkdir(parents=True)
    (home / "models" / "m" / "last.safetensors").write_bytes(
        (src_home / "models" / "m" / "last.safetensors").read_bytes())

    code, out, _ = _cli(home, "models")
    rows = {line.split()[0]: line for line in out.splitlines()[1:] if line.strip()}
    assert code == 0 and "torch/lstm 1×16" in rows["m"] and " 30 " in rows["m"]
    assert "(read-only)" not in rows["m"]
    assert _cli(home, "models", "list")[1] == out

    code, out, _ = _cli(home, "models", "show", "m")
    shown = json.loads(out)
    assert code == 0
    assert shown["spec"]["impl"] == "torch" and shown["spec"]["hidden"] == 16
    assert shown["spec"]["vocab"] == "".join(kit.ALPHABET)
    assert shown["state"]["step"] == 30 and shown["state"]["history"].endswith("points")
    saved = modelfile.load(home / "models" / "m" / "last.safetensors")[0].state
    assert shown["state"]["epoch"] == saved.epoch + 1  # one epoch count: the app's, from 1

    assert _cli(home, "models", "rename", "m", "n")[0:2] == (0, "renamed m to n\n")
    assert _store(home).names()[-1] == "n" and "m" not in _store(home).names()
    code, _, err = _cli(home, "models", "rename", "ghost", "x")
    assert code == 2 and "no model named 'ghost'" in err

    dest = tmp_path / "out.safetensors"
    code, out, _ = _cli(home, "models", "export", "n", str(dest))
    assert code == 0 and str(dest) in out and modelfile.load(dest)[0].state.step == 30
    code, _, err = _cli(home, "models", "export", "n", str(dest))
    assert code == 2 and "exists" in err and "--force" in err
    assert _cli(home, "models", "export", "n", str(dest), "--force")[0] == 0
    light = tmp_path / "light.safetensors"
    assert _cli(home, "models", "export", "n", str(light), "--weights-only")[0] == 0
    assert light.stat().st_size < dest.stat().st_size
    assert modelfile.load(light)[0].optim_tensors == {}

    code, out, _ = _cli(home, "models", "import", str(dest), "--name", "imported")
    assert code == 0 and "imported as imported" in out
    assert _store(home).load("imported").state.step == 30
    code, _, err = _cli(home, "models", "import", str(dest), "--name", "imported")
    assert code == 2 and "exists" in err
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(dest.read_bytes()[:200])
    code, _, err = _cli(home, "models", "import", str(broken))
    assert code == 2 and "broken.safetensors" in err
    assert "broken" not in _store(home).names()

    assert _cli(home, "models", "rm", "n")[0:2] == (0, "deleted n\n")
    assert "n" not in _store(home).names()
    code, _, err = _cli(home, "models", "rm", "n")
    assert code == 2 and "no model named 'n'" in err


def test_shipped_model_is_read_only_and_resumes_into_a_copy(tmp_path):
    from charrnn_tui.resources import shipped_models

    if not shipped_models():
        pytest.skip("no shipped model in this checkout")
    name = shipped_models()[0].stem
    before = shipped_models()[0].read_bytes()
    home = tmp_path / "home"
    listed = _cli(home, "models")[1]
    assert f"{name} (built-in)" in listed, "the app's Models tab calls it built-in too"
    for argv in (("models", "rm", name), ("models", "rename", name, "x")):
        code, _, err = _cli(home, *argv)
        assert code == 2 and "read-only" in err
    corpus = kit.write_text(tmp_path / "tiny.txt")
    code, out, err = _cli(home, "train", "--resume", name, str(corpus), "--new-chars", "map",
                          "--batch", "2", "--seq", "8", "--max-steps", "2", "--json",
                          "--precision", "fp32")
    assert code == 0, err
    result = json.loads(out)
    assert result["model"] == f"{name}-own"
    assert _store(home).load(f"{name}-own").spec.vocab == modelfile.load(
        shipped_models()[0])[0].spec.vocab
    assert shipped_models()[0].read_bytes() == before


def test_the_progress_line_counts_epochs_from_1_like_the_app():
    from types import SimpleNamespace

    from charrnn_tui.cli.progress import ProgressLine
    from charrnn_tui.engine.training.events import Progress

    config = SimpleNamespace(time_budget=None, epochs=None, max_steps=10)
    reporter = ProgressLine(config, out=io.StringIO(), width=120)
    reporter(Progress(step=3, epoch=0, chunk=3, chunks=9, train_loss=2.0, lr=0.01,
                      chars_per_s=1000.0, elapsed=1.0, eta=None, device="cpu", precision="fp32"))
    info = reporter.line()
    assert "epoch 1 " in info and "chunk 3/9" in info


def test_eval_window_protocol(trained, tmp_path):
    home, corpus, _ = trained
    code, out, err = _cli(home, "eval", "m", str(corpus), "--protocol", "window",
                          "--window", "16")
    assert code == 0, err
    result = json.loads(out)
    assert result["protocol"] == "window" and result["window"] == 16
    ckpt = _store(home).load("m")
    expect = window_cross_entropy(restore_model(ckpt), kit.corpus().data, window=16)
    assert result["nats_per_char"] == pytest.approx(expect, rel=1e-6)
    with pytest.raises(SystemExit):  # argparse refuses it before anything loads
        _cli(home, "eval", "m", str(corpus), "--window", "0")


def test_train_records_the_regularisers_and_refuses_them_for_numpy(tmp_path):
    corpus = kit.write_text(tmp_path / "tiny.txt")
    code, out, err = _cli(tmp_path / "home", "train", str(corpus), "--impl", "torch", *SMALL,
                          "--max-steps", "5", "--json", "--name", "r", "--precision", "fp32",
                          "--embed-dropout", "0.1", "--locked-dropout", "0.2",
                          "--weight-dropout", "0.3", "--ema", "0.9", "--warmup-steps", "3")
    assert code == 0, err
    ckpt = _store(tmp_path / "home").load("r")
    assert (ckpt.spec.embed_dropout, ckpt.spec.locked_dropout, ckpt.spec.weight_dropout) \
        == (0.1, 0.2, 0.3)
    assert ckpt.config["ema"] == 0.9 and ckpt.config["warmup_steps"] == 3
    code, out, err = _cli(tmp_path / "home", "train", str(corpus), "--impl", "numpy",
                          "--max-steps", "2", "--weight-dropout", "0.3")
    assert code == 2 and "need the torch implementation" in err and err.count("\n") == 1


def test_numpy_starts_from_its_own_defaults(tmp_path):
    corpus = kit.write_text(tmp_path / "tiny.txt")
    code, out, err = _cli(tmp_path / "home", "train", str(corpus), "--impl", "numpy",
                          "--max-steps", "1", "--json", "--name", "n")
    assert code == 0, err
    ckpt = _store(tmp_path / "home").load("n")
    defaults = IMPL_DEFAULTS["numpy"]
    assert ckpt.spec.hidden == defaults.model["hidden"] and ckpt.spec.cell == "rnn"
    for key, value in defaults.train.items():
        assert ckpt.config[key] == value, key

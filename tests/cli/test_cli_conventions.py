"""What a command-line user expects: --version, hints for mistyped flags and values, shell
completion made from the parser, a train progress line that fits 80 columns, and one
evaluation interval per preset in the app and the help."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from types import SimpleNamespace

import pytest

from charrnn_tui import cli
from charrnn_tui.cli.progress import ProgressLine
from charrnn_tui.engine.training.events import Evaluated, Progress
from charrnn_tui.engine.training.presets import DEFAULT_PRESET, PRESETS


def _refused(argv: list[str], capsys) -> str:
    with pytest.raises(SystemExit) as exit_:
        cli.main(argv)
    assert exit_.value.code == 2
    return capsys.readouterr().err


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--version"])
    assert exit_.value.code == 0
    assert re.fullmatch(r"charrnn-tui \S+\n", capsys.readouterr().out)


@pytest.mark.parametrize("argv, hint", [
    (["sample", "m", "--tempurature", "1"], "did you mean --temperature?"),
    (["train", "x.txt", "--hiden", "8"], "did you mean --hidden?"),
    (["train", "x.txt", "--eval-evry=3"], "did you mean --eval-every?"),
])
def test_a_mistyped_flag_gets_the_nearest_one(argv, hint, capsys):
    err = _refused(argv, capsys)
    assert "unrecognized arguments" in err and hint in err


def test_a_far_fetched_flag_gets_no_guess(capsys):
    assert "did you mean" not in _refused(["sample", "m", "--xyzzy"], capsys)


def test_temperature_zero_points_to_argmax(capsys):
    error = _refused(["sample", "m", "--temperature", "0"], capsys).splitlines()[-1]
    assert "--argmax" in error
    other = _refused(["sample", "m", "--temperature", "-1"], capsys).splitlines()[-1]
    assert "--argmax" not in other and "finite number" in other


def test_device_help_names_every_device_and_apple_gpus():
    sub = cli._parser()._subparsers._group_actions[0].choices
    for command in ("train", "race"):
        text = " ".join(sub[command].format_help().split())
        assert "cpu|cuda|mps|auto" in text and "Apple GPU" in text, command


def _completion(shell: str, capsys) -> str:
    assert cli.main(["completion", shell]) == 0
    return capsys.readouterr().out


@pytest.mark.skipif(shutil.which("bash") is None, reason="no bash here")
def test_bash_completion_completes_subcommands_flags_and_choices(capsys, tmp_path):
    script = tmp_path / "c.bash"
    script.write_text(_completion("bash", capsys))

    def complete(*words: str) -> list[str]:
        code = (f"source {script}; COMP_WORDS=(charrnn-tui {' '.join(words)}); "
                f"COMP_CWORD={len(words)}; _shtab_charrnn_tui; echo \"${{COMPREPLY[@]}}\"")
        done = subprocess.run(["bash", "-c", code], capture_output=True, text=True,
                              timeout=60)
        return done.stdout.split()

    assert complete("sa") == ["sample"]
    assert complete("sample", "m", "--temp") == ["--temperature"]
    assert complete("train", "--preset", "") == sorted(PRESETS)
    assert "completion" in complete("")


def test_zsh_and_fish_completion(capsys):
    assert _completion("zsh", capsys).startswith("#compdef charrnn-tui")
    fish = _completion("fish", capsys).splitlines()
    assert "complete -c charrnn-tui -n __fish_use_subcommand -a sample -d " \
           "'stream generated text to stdout'" in fish
    assert any("__fish_seen_subcommand_from sample" in line and "-l temperature" in line
               for line in fish)
    assert any("__fish_seen_subcommand_from models" in line and "-a rename" in line
               for line in fish)


def _progress(step: int, elapsed: float) -> Progress:
    return Progress(step=step, epoch=11, chunk=1234, chunks=5678, train_loss=1.2345,
                    lr=0.01, chars_per_s=123456.0, elapsed=elapsed, eta=None,
                    device="cuda", precision="bf16")


def test_the_progress_line_fits_80_columns_and_its_time_moves():
    now = [100.0]
    config = SimpleNamespace(time_budget=20.0, epochs=None, max_steps=None)
    line = ProgressLine(config, out=io.StringIO(), width=80, clock=lambda: now[0])
    line(_progress(123456, 1.0))
    assert "val –" in line.line() and "0:00:00" in line.line()
    line(Evaluated(step=123456, val_loss=1.4567, val_bpc=2.1, best=True))
    now[0] += 65
    line(_progress(123457, 11.0))
    text = line.line()
    assert len(text) < 80
    for part in ("step 123,457", "loss 1.234", "val 1.457", "123.5k chars/s", "0:01:05"):
        assert part in text, (part, text)
    assert text.startswith("━") and "╺" in text  # half the budget: a half-full bar
    wide = ProgressLine(config, out=io.StringIO(), width=160, clock=lambda: now[0])
    wide(_progress(5, 1.0))
    assert "epoch 12 chunk 1234/5678" in wide.line() and "cuda/bf16" in wide.line()


def test_a_short_quick_run_evaluates_and_the_help_says_when():
    assert PRESETS["quick"].train["eval_every"] < 20  # a 20 s run evaluates before it ends
    assert PRESETS[DEFAULT_PRESET].train["eval_every"] < 20  # auto, before it sees a text
    train = cli._parser()._subparsers._group_actions[0].choices["train"]
    helped = " ".join(train.format_help().split())
    assert "validation loss every SECONDS (default: the preset's; auto: chosen from the " \
           "text's size)" in helped


async def test_the_apps_preset_evaluates_as_often_as_the_help_says(no_gpu):
    from textual.widgets import Input

    from charrnn_tui.app import CharRNNApp

    app = CharRNNApp()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f3")
        shown = app.query_one("#eval_every", Input).value
    assert shown == f"{PRESETS[DEFAULT_PRESET].train['eval_every']:g}"

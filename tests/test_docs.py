"""The manual stays true to the code: docs/cli.md names every subcommand and flag the parser
knows, and docs/results.md and the README's table are what bench/report.py builds from the
records in bench/results/ (no benchmark runs here)."""

from __future__ import annotations

import argparse
import re

from helpers import REPO, bench_module

ROOT = REPO
CLI_MD = ROOT / "docs" / "cli.md"


def build_parser() -> argparse.ArgumentParser:
    """The command line's parser; the one place to change if the CLI module moves."""
    from charrnn_tui import cli

    return cli._parser()


def _commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """(subcommand path, parser) for the top level and every subcommand, depth first."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _commands(sub, (*path, name))


def _sections(text: str) -> dict[str, str]:
    """cli.md's `## \\`charrnn-tui COMMAND\\`` sections by COMMAND ('' for the app)."""
    sections: dict[str, str] = {}
    for block in re.split(r"^## ", text, flags=re.M)[1:]:
        heading, _, body = block.partition("\n")
        if m := re.match(r"`charrnn-tui ?([\w-]*)`", heading):
            sections[m.group(1)] = body
    return sections


def _mentions(text: str, word: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text) is not None


def missing_from(text: str) -> list[str]:
    """The subcommands and flags of the parser that the text of cli.md does not mention."""
    sections = _sections(text)
    missing = []
    for path, parser in _commands(build_parser()):
        section = sections.get(path[0] if path else "")
        if section is None:
            missing.append(f"a section for {' '.join(path)}")
            continue
        if len(path) > 1 and not re.search(rf"`{re.escape(path[-1])}\b", section):
            missing.append(" ".join(path))
        for action in parser._actions:
            for flag in action.option_strings:
                if flag not in ("-h", "--help") and not _mentions(section, flag):
                    missing.append(f"{' '.join(path) or 'charrnn-tui'} {flag}")
    return missing


def test_cli_md_names_every_subcommand_and_flag():
    missing = missing_from(CLI_MD.read_text(encoding="utf-8"))
    assert not missing, f"docs/cli.md does not mention: {', '.join(missing)}"


def test_the_check_notices_a_missing_flag_and_subcommand():
    text = CLI_MD.read_text(encoding="utf-8")
    text = re.sub(r"(?<![\w-])--repetition-window(?![\w-])", "--window", text)
    text = text.replace("`rename OLD NEW`", "`mv OLD NEW`")
    assert sorted(missing_from(text)) == ["models rename", "sample --repetition-window"]


def _report():
    return bench_module("report")


def test_results_md_is_what_report_builds():
    report = _report()
    built = report.build(report.load_records())
    assert (ROOT / "docs" / "results.md").read_text(encoding="utf-8") == built, \
        "docs/results.md is out of date: run python bench/report.py"


def test_readme_table_is_what_report_builds():
    report = _report()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = report.readme_table(report.load_records())
    assert report.with_readme_table(readme, table) == readme, \
        "the README's results table is out of date: run python bench/report.py"


def test_every_record_names_its_machine_and_command():
    for stem, record in _report().load_records():
        machine = record["machine"]
        assert machine.get("name") or machine.get("cpu"), stem
        assert record["command"] and record["date"], stem
        assert record["source"] in ("measured", "transcribed"), stem


def test_readme_is_short_and_its_test_command_is_what_ci_runs():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 200
    blocks = re.findall(r"```sh\n(.*?)\n```", readme, re.S)
    assert blocks[0] == 'pip install "torch==2.13.0" -e . && charrnn-tui'
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    steps = [line.replace("python -m pip install -q", "pip install") for line in ci
             if line and not line.startswith(("#", "set ", "cd ", ".ci/browser"))]
    assert " && ".join(steps) == blocks[1]


def test_no_page_names_an_issue_number():
    pages = [ROOT / "README.md", ROOT / "CHANGELOG.md", *(ROOT / "docs").rglob("*.md")]
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert not re.search(r"\bissues? \d+|(?<![\w/&])#\d+\b", text, re.I), page.name


def test_a_saved_benchmark_run_becomes_rows_of_its_question(tmp_path):
    """What `--save` writes is what report.py reads: a quality run's seeds share one row."""
    common, report = bench_module("common"), _report()
    common.RESULTS = tmp_path
    result = {"bench": "quality", "budget_s": 120, "runs": [
        {"run": "quick", "seed": s, "val_stream": v, "steps": 9, "curve": [[1.0, 2.0]]}
        for s, v in ((1, 1.5), (2, 1.25))]}
    args = argparse.Namespace(save="presets", what="quick, 120 s", busy_beside=1)
    first = common.save(dict(result), args)  # a second run of the same thing, saved in the
    second = common.save(result | {"runs": result["runs"][:1]}, args)  # same second
    assert first != second
    records = report.load_records(tmp_path)
    assert records[0][1]["machine"]["busy"] == 1 and records[0][1]["machine"]["cores"]
    rows = [line for line in report.build(records).splitlines() if "quick, 120 s" in line]
    assert len(rows) == 2 and "*earlier*" in rows[0] and "*earlier*" not in rows[1]
    assert "| 1 / 2 | 1.5 / 1.25 | 9 / 9 |" in rows[0]  # the first: earlier, both seeds
    assert "| 1 | 1.5 | 9 |" in rows[1] and "1 busy" in rows[1]

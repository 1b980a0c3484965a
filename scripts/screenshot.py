"""Draw docs/images/playground.svg: the app itself, in a Pilot run, streaming text from the
built-in Shakespeare model in the Playground.

    python scripts/screenshot.py [OUT.svg]

It runs on a throw-away data home and config folder, so your saved models and session are
neither read nor changed. The text differs from run to run (sampling is random).
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "images" / "playground.svg"
SIZE = (110, 34)
SEED = "ROMEO:\n"
SHOWN = 400  # characters on screen when the picture is taken, out of LENGTH: mid-stream
LENGTH = 2000


async def shoot(out: Path) -> None:
    from textual.widgets import Input, Log

    from charrnn_tui.app import CharRNNApp
    from charrnn_tui.panes.playground.pane import PlaygroundPane

    app = CharRNNApp(fresh=True)  # opens on the Playground with the built-in model
    async with app.run_test(size=SIZE) as pilot:
        play = app.query_one(PlaygroundPane)
        deadline = time.monotonic() + 60
        while play.sampler is None:
            if time.monotonic() > deadline:
                raise SystemExit("the built-in model did not load within 60 s")
            await pilot.pause(0.1)
        app.query_one("#length", Input).value = str(LENGTH)
        seed = app.query_one("#seed", Input)
        seed.value = SEED.replace("\n", "\\n")
        seed.focus()
        await pilot.press("enter")
        log = app.query_one("#output", Log)
        while sum(len(line) for line in log.lines) < SHOWN:
            if time.monotonic() > deadline:
                raise SystemExit("no text streamed within 60 s")
            await pilot.pause(0.1)
        app.save_screenshot(filename=out.name, path=str(out.parent))
        await pilot.press("f8")  # stop the stream before the app closes


def main() -> None:
    out = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else OUT
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["CHARRNN_TUI_HOME"] = str(Path(tmp) / "home")
        os.environ["CHARRNN_TUI_CONFIG"] = str(Path(tmp) / "config")
        asyncio.run(shoot(out))
    print(out)


if __name__ == "__main__":
    main()

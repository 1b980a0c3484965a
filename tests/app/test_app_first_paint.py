"""The app paints first: the Playground opens with the shipped model and generates before
torch is imported, and the Train pane builds without it; torch then loads in the
background, and the GPU switch says "loading PyTorch…" until it has. Run in a fresh
interpreter (this one has torch already), with the background load held back until the
script lets it go, so nothing depends on timing."""

from __future__ import annotations

import json
import subprocess
import sys

from helpers import FOLDER

_SCRIPT = """
import asyncio, json, sys, time
sys.path.insert(0, {helpers!r})
from pilot import wait_for

from charrnn_tui import torch_loader

held = []
real_load = torch_loader.load
torch_loader.load = held.append  # the app asks; the script decides when

from charrnn_tui.app import CharRNNApp

async def main():
    seen = {{}}
    app = CharRNNApp(fresh=True)
    async with app.run_test(size=(100, 32)) as pilot:
        play = app.playground
        await wait_for(pilot, lambda: play.sampler is not None and len(held) == 1, 60)
        seen["model"] = play.model_name
        await app.panes.build("train")  # built when first shown: it needs no torch either
        seen["gpu_before"] = str(app.query_one("#gpu-reason").render())
        await play.action_generate()
        await wait_for(pilot, lambda: len(play.generated) >= 20, 60)
        seen["torch_while_playing"] = "torch" in sys.modules
        real_load(held[0])
        await wait_for(pilot, lambda: str(app.query_one("#gpu-reason").render())
                       != seen["gpu_before"], 120)
        seen["gpu_after"] = str(app.query_one("#gpu-reason").render())
        seen["torch_after"] = "torch" in sys.modules
    print(json.dumps(seen))

asyncio.run(main())
"""


def test_the_first_screen_and_generation_need_no_torch(tmp_path):
    helpers = str(FOLDER)
    done = subprocess.run([sys.executable, "-c", _SCRIPT.format(helpers=helpers)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["model"] == "shakespeare"
    assert seen["gpu_before"] == "GPU: loading PyTorch…"
    assert seen["torch_while_playing"] is False
    assert seen["torch_after"] is True and "loading" not in seen["gpu_after"]

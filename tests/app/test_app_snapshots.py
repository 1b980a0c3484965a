"""Each pane's first look, at 100×32 and at 80×24, compared with the accepted SVGs in __snapshots__.

Deterministic by construction: an empty data home, no shipped models, a fixed GPU
answer, no cursor blink. Update after a deliberate change with
`pytest tests/app/test_app_snapshots.py --snapshot-update` and review the SVGs.
"""

from __future__ import annotations

import pytest
from textual.widgets import Input

from charrnn_tui.app import CharRNNApp
from charrnn_tui.commands import TABS

pytestmark = pytest.mark.usefixtures("no_shipped_models", "no_gpu")
SIZE = (100, 32)


async def steady(pilot) -> None:
    """No blinking cursor in any pane (each is built when first shown: build them all)."""
    for tab, _, _ in TABS:
        await pilot.app.panes.build(tab)
    for box in pilot.app.query(Input):
        box.cursor_blink = False


@pytest.mark.parametrize("keys", [(), ("f3",), ("f4",), ("f5",), ("f9",), ("f1",)],
                         ids=["corpus", "train", "playground", "models", "insight", "help"])
def test_first_look(snap_compare, keys):
    assert snap_compare(CharRNNApp(), press=keys, terminal_size=SIZE, run_before=steady)


@pytest.mark.parametrize("keys", [(), ("f3",), ("f4",), ("f5",), ("f9",)],
                         ids=["corpus", "train", "playground", "models", "insight"])
def test_first_look_at_80x24(snap_compare, keys):
    """The smallest terminal the app promises to work in: nothing cut that matters."""
    assert snap_compare(CharRNNApp(), press=keys, terminal_size=(80, 24), run_before=steady)


def test_train_in_light_theme(snap_compare):
    async def light(pilot) -> None:
        pilot.app.theme = "textual-light"
        await steady(pilot)

    assert snap_compare(CharRNNApp(), press=("f3",), terminal_size=SIZE, run_before=light)

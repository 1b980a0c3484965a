"""Panes built the first time their tab is shown.

The five panes are about 350 widgets, the Train form alone 150; composing and styling them
all held back the first screen and made every key a test presses wait on all of them. The
first screen builds only what it shows (and the panes that carry the model); the others are
composed when their tab is first shown. What the app tells a pane before then is kept and
told, in order, once the pane exists.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable

from textual.css.query import NoMatches
from textual.widget import Widget
from textual.widgets import TabbedContent, TabPane

Call = Callable[[Widget], object]  # a method call on the pane; may return an awaitable


class SteadyTabs(TabbedContent):
    """TabbedContent that shows a tab for a focus inside it only while the focus is there.

    TabbedContent shows the tab of a widget that gets focus, on a message that arrives a
    few hops later. A focus given just before another tab was shown (the first screen's,
    with F3 pressed at once, while the new pane was being built) would take that tab back.
    """

    def _on_tab_pane_focused(self, event: TabPane.Focused) -> None:
        focused = self.screen.focused
        if focused is None or event.tab_pane not in focused.ancestors:
            event.prevent_default()  # TabbedContent's own handler: not for a stale focus
            event.stop()


class TabPanes:
    """The pane of each tab (`#<tab>-pane` inside `TabPane#<tab>`), built on demand.

    `factories` makes the panes not composed with the app; `needs` names, for a tab, the
    tabs whose panes must exist before its own (Train trains on what Corpus loads).
    """

    def __init__(self, tabs: TabbedContent, factories: dict[str, Callable[[], Widget]],
                 needs: dict[str, tuple[str, ...]]) -> None:
        self._tabs = tabs
        self._factories = factories
        self._needs = needs
        self._pending: dict[str, list[Call]] = {tab: [] for tab in factories}
        self._building: dict[str, asyncio.Task[Widget]] = {}

    def built(self, tab: str) -> Widget | None:
        """The tab's pane once it is ready for calls; None until then."""
        if tab in self._factories:
            return None
        try:
            return self._tabs.query_one(f"#{tab}-pane")
        except NoMatches:  # the app is closing: its widgets are gone
            return None

    async def build(self, tab: str) -> Widget:
        """The tab's pane, composing it (and what it needs) first if it is not yet."""
        pane = self.built(tab)
        if pane is not None:
            return pane
        if tab not in self._building:  # one build however many ask at once
            self._building[tab] = asyncio.create_task(self._build(tab))
        return await self._building[tab]

    async def tell(self, tab: str, call: Call) -> None:
        """Make `call` on the tab's pane now, or as soon as the pane is built."""
        pane = self.built(tab)
        if pane is None:
            self._pending[tab].append(call)
            return
        result = call(pane)
        if inspect.isawaitable(result):
            await result

    async def _build(self, tab: str) -> Widget:
        for need in self._needs.get(tab, ()):
            await self.build(need)
        pane = self._factories[tab]()
        await self._tabs.query_one(f"TabPane#{tab}").mount(pane)
        pending = self._pending[tab]
        while pending:  # calls told while earlier ones ran are told too, in order
            result = pending.pop(0)(pane)
            if inspect.isawaitable(result):
                await result
        del self._factories[tab], self._pending[tab]
        return pane

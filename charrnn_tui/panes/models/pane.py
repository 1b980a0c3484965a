"""Models pane: the saved models, to sample from, continue training, rename or delete."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, DataTable, Static

from charrnn_tui.engine.checkpoint import Checkpoint
from charrnn_tui.engine.storage.store import ModelInfo, ModelStore, StoreError, check_name
from charrnn_tui.messages import (
    ModelLoadFailed,
    ModelReady,
    ModelRenamed,
    ModelSavedAs,
    Purpose,
)
from charrnn_tui.names import free_name
from charrnn_tui.screens.dialogs import ConfirmScreen, PromptScreen
from charrnn_tui.widgets.format import bits_text, count, loss_text
from charrnn_tui.workers import load_model, run_in_thread

CurrentModel = Callable[[], "tuple[str, Checkpoint] | None"]


def _updated(stamp: str, narrow: bool) -> str:
    """'2025-01-02T10:11:12+0100' → '2025-01-02 10:11', or '01-02 10:11' when narrow."""
    return stamp[5 if narrow else 0:16].replace("T", " ")


NARROW = 110  # below this many columns the table drops Params and shortens the rest
_COLUMNS = ("Name", "Model", "Params", "Corpus", "Val nats", "Steps", "Updated")


def _short(text: str, width: int = 16) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


class ModelsTable(DataTable):
    """A click only highlights a row; Enter or a double click loads it. (A second single
    click on the highlighted row used to load it and switch to the Playground, where the
    next key meant for this tab landed in the seed box.)"""

    async def _on_click(self, event: events.Click) -> None:
        row = event.style.meta.get("row")
        if event.chain >= 2 or not isinstance(row, int) or row < 0:
            return  # a double click or the header: DataTable's own handler runs next
        event.prevent_default()  # no DataTable handler: it would select a highlighted row
        event.stop()
        self.cursor_coordinate = self.cursor_coordinate._replace(row=row)


class ModelsPane(Vertical):
    """Store operations are quick and run here; loading weights runs on a thread."""

    BINDINGS = [
        Binding("l", "load", "Load in Playground"),
        Binding("r", "resume", "Resume training"),
        Binding("n", "rename", "Rename"),
        Binding("delete,d", "delete", "Delete"),
        Binding("s", "save_current", "Save current as…"),
        Binding("c", "compare", "Compare runs"),
    ]

    def __init__(self, store: ModelStore, current: CurrentModel,
                 training: Callable[[], str | None], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.store = store
        self.current = current  # the Playground's model, for "Save current as…"
        self.training = training  # the name a running training saves under
        self.infos: dict[str, ModelInfo] = {}

    def compose(self) -> ComposeResult:
        yield ModelsTable(id="models-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="models-detail", markup=False)
        with Horizontal(id="models-buttons"):
            yield Button("Load in Playground", id="load", variant="primary", compact=True)
            # short labels: all six fit at 80 columns (the footer and tooltips say more)
            yield Button("Resume", id="resume", compact=True,
                         tooltip="Continue training this model in the Train tab")
            yield Button("Rename", id="rename", compact=True)
            yield Button("Delete", id="delete", variant="error", compact=True)
            yield Button("Save as…", id="save_current", compact=True,
                         tooltip="Save the Playground's model under a new name")
            yield Button("Compare…", id="compare", compact=True)
        yield Static("", id="models-status")

    narrow: bool | None = None  # the layout the table has now

    def on_mount(self) -> None:
        self.refresh_models()

    def on_resize(self) -> None:
        self._fill_table()  # names get the width there is; the store is not read again

    def focus_default(self) -> None:
        self.query_one(DataTable).focus()

    def refresh_models(self, highlight: str | None = None) -> None:
        """Re-read the store and show what it holds, the highlight on `highlight` (a renamed
        model's new name) or where it was."""
        self.infos = {i.name: i for i in self.store.list()}
        self._fill_table(highlight)
        self.query_one("#models-status", Static).update(
            "" if self.infos else "No saved models yet: train one in the Train tab (F3).")
        for button in self.query(Button):
            button.disabled = not self.infos and button.id != "save_current"

    def _fill_table(self, highlight: str | None = None) -> None:
        """The table from `infos`, at the width there is. Below NARROW columns every column
        still shows (80×24 included): Params goes, names and corpora are cut short (the line
        under the table names the highlighted model in full), steps and dates get shorter."""
        table = self.query_one(DataTable)
        keep = highlight or self.selected_name()
        row = self.query_one(DataTable).cursor_row
        narrow = self.size.width < NARROW
        table.clear(columns=narrow != self.narrow)
        if narrow != self.narrow:
            for label in _COLUMNS:
                if not (narrow and label == "Params"):
                    table.add_column(label, key=label)
            self.narrow = narrow
        name_width = max(12, self.size.width - 66) if narrow else 48
        for info in self.infos.values():
            # Text, not str: a DataTable reads str as markup, and names are the user's
            name = Text(_short(f"{info.name} (built-in)" if info.read_only else info.name,
                               name_width))
            if info.error:
                cells = [name, "unreadable", "", Text(info.error), "", "", ""]
            else:
                cells = [name, info.describe, count(info.params),
                         Text(_short(info.corpus, 10 if narrow else 20)),
                         "–" if info.val_loss is None else f"{info.val_loss:.3f}",
                         count(info.steps) if narrow else f"{info.steps:,}",
                         Text(_updated(info.updated, narrow))]
            if narrow:
                del cells[2]  # Params
            table.add_row(*cells, key=info.name)
        if keep in self.infos:
            table.move_cursor(row=table.get_row_index(keep))
        elif table.row_count:  # deleted: the row that took its place
            table.move_cursor(row=min(row, table.row_count - 1))

    def selected_name(self) -> str | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    def _status(self, text: str) -> None:
        self.query_one("#models-status", Static).update(Text(text))

    # --- actions -------------------------------------------------------------------------
    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        getattr(self, f"action_{event.button.id}")()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """The highlighted model in full: the table may have cut its name and corpus."""
        info = self.infos.get(event.row_key.value) if event.row_key else None
        detail = "" if info is None else info.name if info.error else (
            f"{info.name} · {info.describe} · {count(info.params)} params · "
            f"{info.corpus} · "
            + ("" if info.val_loss is None else
               f"val {loss_text(info.val_loss)} = {bits_text(info.val_loss)} · ")
            + f"updated {_updated(info.updated, False)}")
        self.query_one("#models-detail", Static).update(detail)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_load()

    def action_load(self) -> None:
        name = self.selected_name()
        if name:
            self._status(f"loading {name}…")
            self.open_model(name, "play")

    def action_resume(self) -> None:
        name = self.selected_name()
        if not name:
            return
        if name not in self.store.read_only:
            self.open_model(name, "resume")
            return

        def chosen(new: str | None) -> None:
            if new:
                self.open_model(name, "resume", save_as=new)

        self.app.push_screen(PromptScreen(
            f"{name} is built in and read-only: train a copy named",
            free_name(self.store, f"{name}-own"), action="Resume as copy",
            check=self._check_new), chosen)

    def action_compare(self) -> None:
        """Overlay saved runs' curves (screens/compare_runs.py), starting from the selected one."""
        from charrnn_tui.screens.compare_runs import CompareRunsScreen

        name = self.selected_name()
        self.app.push_screen(CompareRunsScreen(self.store, [name] if name else [],
                                               getattr(self.app, "home", None)))

    def _changeable(self, verb: str) -> str | None:
        """The selected model, if it may be renamed or deleted now; else say why not."""
        name = self.selected_name()
        if name and name in self.store.read_only:
            self._status(f"✗ {name} is built in and cannot be {verb}")
        elif name and name == self.training():
            self._status(f"✗ {name} is being trained; stop the training first")
        else:
            return name
        return None

    def action_rename(self) -> None:
        name = self._changeable("renamed")
        if not name:
            return

        def chosen(new: str | None) -> None:
            if new and self._do(lambda: self.store.rename(name, new), f"renamed {name} to {new}",
                                highlight=new):
                self.post_message(ModelRenamed(name, new))

        self.app.push_screen(PromptScreen(f"Rename {name} to", name, action="Rename",
                                          check=self._check_new), chosen)

    def action_delete(self) -> None:
        name = self._changeable("deleted")
        if not name:
            return

        def answered(yes: bool | None) -> None:
            if yes and self._do(lambda: self.store.remove(name), f"deleted {name}"):
                self.post_message(ModelRenamed(name, None))

        self.app.push_screen(ConfirmScreen(
            f"Delete the model {name!r}? Its saved files are removed for good.", "Delete"),
            answered)

    def action_save_current(self) -> None:
        current = self.current()
        if current is None:
            self._status("✗ no model in the Playground to save")
            return
        name, ckpt = current

        def chosen(new: str | None) -> None:
            if new and self._do(lambda: self._save_copy(ckpt, new),
                                f"saved the Playground model as {new}; it plays as {new} now"):
                self.post_message(ModelSavedAs(name, new))

        self.app.push_screen(PromptScreen(
            "Save the Playground model as", free_name(self.store, f"{name}-copy"),
            action="Save", check=self._check_new), chosen)

    def _save_copy(self, ckpt: Checkpoint, name: str) -> None:
        self.store.create(name)
        try:
            self.store.save(ckpt, name, "last")
        finally:
            self.store.release(name)

    def _do(self, change: Callable[[], object], done: str, highlight: str | None = None
            ) -> bool:
        try:
            change()
        except (StoreError, OSError) as e:
            self._status(f"✗ {e}")
            return False
        self.refresh_models(highlight)
        self._status(done)
        return True

    def _check_new(self, name: str) -> str | None:
        try:
            check_name(name)
        except StoreError as e:
            return str(e)
        return f"a model named {name!r} exists" if self.store.exists(name) else None

    def open_model(self, name: str, purpose: Purpose, save_as: str | None = None) -> None:
        """Load `name` on a thread and post ModelReady to "play" it or to "resume" training."""
        run_in_thread(self, lambda: load_model(self.store, name),
                      lambda loaded: ModelReady(save_as or name, *loaded, purpose,
                                                copy_of=name if save_as else None),
                      lambda error: ModelLoadFailed(name, error), group="models")

    def on_model_load_failed(self, event: ModelLoadFailed) -> None:
        self._status(f"✗ could not load {event.name}: {event.error}")

    def on_model_ready(self, event: ModelReady) -> None:
        """Clear the status; the message bubbles on to the app, which uses the model."""
        self._status("")

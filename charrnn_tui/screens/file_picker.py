"""Browse for a corpus: pick a text file, or a folder whose files are read together.
When served, the tree neither climbs above the served folder nor shows links out of it."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, DirectoryTree, Label

from charrnn_tui.confine import within_root


class ConfinedTree(DirectoryTree):
    """A DirectoryTree that leaves out what served mode may not open (links out)."""

    def filter_paths(self, paths):
        return [p for p in paths if within_root(str(p))]


class FilePickerScreen(ModalScreen[str | None]):
    """Enter on a file opens it; "Use folder" takes the highlighted folder; Backspace or
    "Parent" climbs to the folder above."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel"),
                Binding("backspace", "up", "Parent folder")]

    def __init__(self, start: Path, root: Path | None = None) -> None:
        super().__init__()
        self.start = start
        self.root = root  # served mode's folder: no climbing above it
        self.highlighted: Path = start

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog picker"):
            yield Label("Pick a text file (Enter), or a folder of text files", id="picker-title")
            yield Label(str(self.start), id="picker-folder", markup=False)
            yield ConfinedTree(self.start, id="picker-tree")
            with Horizontal(classes="dialog-buttons"):
                yield Button("↑ Parent", id="up", tooltip="The folder above (Backspace)")
                yield Button("Use folder", id="use-folder")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one(DirectoryTree).focus()

    def on_directory_tree_file_selected(self, event: DirectoryTree.FileSelected) -> None:
        event.stop()
        self.dismiss(str(event.path))

    def on_tree_node_highlighted(self, event: DirectoryTree.NodeHighlighted) -> None:
        entry = event.node.data
        if entry is not None:
            path = Path(entry.path)
            self.highlighted = path if path.is_dir() else path.parent
            self.query_one("#use-folder", Button).label = f"Use {self.highlighted.name or path}/"

    def action_up(self) -> None:
        tree = self.query_one(DirectoryTree)
        here = Path(tree.path)
        if here.parent == here:  # the root has no parent
            self.app.bell()
            return
        if here == self.root:
            self.notify(f"This server uses only {self.root} and what is inside it.",
                        severity="warning")
            return
        tree.path = here.parent
        self.highlighted = here.parent
        self.query_one("#picker-folder", Label).update(str(here.parent))
        self.query_one("#use-folder", Button).label = f"Use {here.parent.name or here.parent}/"

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "up":
            self.action_up()
            return
        self.dismiss(str(self.highlighted) if event.button.id == "use-folder" else None)

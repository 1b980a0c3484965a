"""Corpus pane: pick a built-in corpus, a recent file or any path, and see what is in it."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Input, Label, OptionList, ProgressBar, Static
from textual.widgets.option_list import Option

from charrnn_tui.confine import OutsideRoot, confine, confined_source, served_root, within_root
from charrnn_tui.engine.analysis.entropy import LN2
from charrnn_tui.engine.data.builtin import BUILTINS
from charrnn_tui.engine.data.corpus import Corpus
from charrnn_tui.engine.data.download import tinyshakespeare_path
from charrnn_tui.engine.data.sources import builtin_source, canonical, is_builtin, load_corpus
from charrnn_tui.messages import CorpusFailed, CorpusLoaded, DownloadProgress
from charrnn_tui.recent import recent_sources, remember_source
from charrnn_tui.references import entropies
from charrnn_tui.screens.file_picker import FilePickerScreen
from charrnn_tui.widgets.format import show_char
from charrnn_tui.widgets.path_input import PathInput
from charrnn_tui.workers import run_in_thread

PREVIEW_CHARS = 2000
PREVIEW_LINES = 40


def _home_relative(path: str) -> str:
    home = str(Path.home())
    return "~" + path[len(home):] if path.startswith(home + "/") else path


class CorpusPane(Vertical):
    """Loading runs on a thread; the result arrives as CorpusLoaded or CorpusFailed."""

    BINDINGS = [
        Binding("ctrl+o", "browse", "Browse…",
                tooltip="Browse for a text file, or a folder of them"),
        Binding("ctrl+l", "focus_path", "Path", tooltip="Type the path of a file or folder"),
    ]

    def __init__(self, home: str | None, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.home = home
        self.corpus: Corpus | None = None
        self.source: str | None = None

    def compose(self) -> ComposeResult:
        with Horizontal():
            with Vertical(id="corpus-sources"):
                yield Label("Choose a corpus", classes="section")
                yield OptionList(*self._options(), id="sources")
                yield Label("…or open a text file or folder", classes="section")
                yield PathInput(placeholder="path (Tab completes), Enter loads", id="path",
                                compact=True)
                with Horizontal(id="path-row"):
                    yield Label("encoding", classes="inline-label")
                    yield Input(placeholder="auto", id="encoding", compact=True,
                                tooltip="Text encoding, e.g. latin-1; empty: detect UTF-8/16/32")
                    yield Button("Browse…", id="browse", compact=True)
                yield ProgressBar(id="download", show_eta=False)
                yield Static("", id="corpus-error", classes="error")
            with Vertical(id="corpus-details"):
                yield Static("No corpus loaded yet.", id="corpus-title", classes="title")
                yield Static("", id="corpus-facts")
                with VerticalScroll(id="corpus-preview-box"):
                    yield Static("", id="corpus-preview", markup=False)

    def on_mount(self) -> None:
        self.query_one("#corpus-preview-box").border_title = "Preview"
        self.query_one("#download").display = False

    def focus_default(self) -> None:
        self.query_one("#sources").focus()

    def _options(self) -> list[Option | None]:
        options: list[Option | None] = []
        for b in BUILTINS:
            note = b.description
            if b.needs_download and tinyshakespeare_path(self.home).exists():
                note = note.replace("downloaded once (needs network)", "downloaded")
            prompt = Text.assemble((b.title, "bold"), "\n", (note, "dim"))
            options.append(Option(prompt, id=builtin_source(b.name)))
        recent = [p for p in recent_sources(self.home) if within_root(p)]
        if recent:
            options.append(None)
            options.append(Option(Text("Recent files", style="bold"), disabled=True))
            options += [Option(Text(_home_relative(p)), id=p) for p in recent]
        return options

    def _refresh_options(self) -> None:
        sources = self.query_one("#sources", OptionList)
        sources.clear_options()
        sources.add_options(self._options())

    # --- choosing ----------------------------------------------------------------------
    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id:
            self.load(event.option.id)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter in the path or the encoding box loads the typed path."""
        event.stop()
        value = self.query_one("#path", Input).value.strip()
        if value:
            self.load(value)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "browse":
            event.stop()
            self.action_browse()

    def action_browse(self) -> None:
        root = served_root()
        try:
            typed = confine(self.query_one("#path", Input).value.strip() or ".")
        except OutsideRoot:
            typed = root
        start = typed if typed.is_dir() else typed.parent if typed.parent.is_dir() else (
            root or Path.cwd())

        def picked(path: str | None) -> None:
            if path:
                self.query_one("#path", Input).value = path
                self.load(path)

        self.app.push_screen(FilePickerScreen(start.resolve(), root), picked)

    def action_focus_path(self) -> None:
        self.query_one("#path", Input).focus()

    def load(self, source: str) -> None:
        """Load `source` (a path or builtin:NAME) on a thread; the result updates the pane."""
        try:
            source = canonical(confined_source(source))
        except OutsideRoot as e:
            self.post_message(CorpusFailed(source, str(e)))
            return
        self.query_one("#corpus-error", Static).update("")
        self.query_one("#corpus-details").loading = True
        self._load(source, self.query_one("#encoding", Input).value.strip() or None)

    def _load(self, source: str, encoding: str | None) -> None:
        def progress(done: int, total: int | None) -> None:
            self.post_message(DownloadProgress(done, total))

        def job() -> Corpus:
            corpus = load_corpus(source, encoding=encoding, home=self.home, progress=progress)
            entropies(corpus.data, corpus.sha256)  # here, off the UI thread; then cached
            return corpus

        run_in_thread(self, job, lambda corpus: CorpusLoaded(source, corpus),
                      lambda error: CorpusFailed(source, error), group="corpus")

    # --- results -----------------------------------------------------------------------
    def on_download_progress(self, event: DownloadProgress) -> None:
        bar = self.query_one("#download", ProgressBar)
        bar.display = True
        bar.update(total=event.total, progress=event.done)

    def on_corpus_failed(self, event: CorpusFailed) -> None:
        """Say so where the corpus would have shown, with what to do, and what Train still
        has: the header must not go on naming the previous corpus as if nothing happened."""
        self.query_one("#corpus-details").loading = False
        self.query_one("#download").display = False
        self.query_one("#corpus-error", Static).update(Text(f"✗ {event.error}"))
        builtin = next((b for b in BUILTINS if builtin_source(b.name) == event.source), None)
        self.query_one("#corpus-title", Static).update(Text.assemble(
            ("✗ Could not load ", "bold red"),
            (builtin.title if builtin else _home_relative(event.source), "bold")))
        advice = Text(event.error)
        if builtin is not None and builtin.needs_download:
            advice.append(f"\n\nNo network? If you have a copy of {builtin.title} (e.g. "
                          "input.txt), open it instead: type its path on the left, or press "
                          "ctrl+o to browse.", "dim")
        if self.corpus is not None:
            advice.append(f"\n\nTraining still uses {self.corpus.name}, loaded before.", "dim")
        self.query_one("#corpus-facts", Static).update(advice)
        self.query_one("#corpus-preview", Static).update("")

    def on_corpus_loaded(self, event: CorpusLoaded) -> None:
        """Show the facts; the event then bubbles on to the app, which hands it to Train."""
        self.query_one("#corpus-details").loading = False
        self.query_one("#download").display = False
        self.corpus, self.source = event.corpus, event.source
        if not is_builtin(event.source):
            remember_source(self.home, event.source)
            self._refresh_options()
        self._show(event.corpus)

    def _show(self, corpus: Corpus) -> None:
        self.query_one("#corpus-title", Static).update(
            Text.assemble(("Loaded: ", "dim"), (corpus.name, "bold"),
                          ("   next: the Train tab (F3)", "dim")))
        train, val = corpus.split()
        total = max(1, len(corpus))
        rows = [
            ("Characters", f"{len(corpus):,}"),
            ("Vocabulary", f"{corpus.vocab_size:,} distinct characters"),
            ("Encoding", corpus.encoding),
            *([("Files", f"{corpus.files:,} read"
                + (f", {len(corpus.notices):,} skipped" if corpus.notices else "")
                + " (hidden files and folders left out)")] if corpus.files > 1 else []),
            ("Train / val", f"{len(train):,} / {len(val):,}"),
            ("Most frequent", "  ".join(f"{show_char(c)} {n / total:.1%}"
                                        for c, n in corpus.most_common(8))),
        ]
        ref = entropies(corpus.data, corpus.sha256)
        rows += [("Unigram", f"{ref.unigram:.3f} nats = {ref.unigram / LN2:.2f} bits per char "
                             "(a model that ignores context)"),
                 ("Bigram", f"{ref.bigram:.3f} nats = {ref.bigram / LN2:.2f} bits per char "
                            "(one character of context)")]
        rows += [("Note", notice) for notice in corpus.notices[:3]]
        if len(corpus.notices) > 3:
            rows.append(("", f"… and {len(corpus.notices) - 3} more files skipped"))
        facts = Text("\n").join(Text.assemble((f"{k:<15}", "dim"), v) for k, v in rows)
        self.query_one("#corpus-facts", Static).update(facts)
        head = corpus.decode(corpus.data[:PREVIEW_CHARS])
        self.query_one("#corpus-preview", Static).update(
            "\n".join(head.splitlines()[:PREVIEW_LINES]))

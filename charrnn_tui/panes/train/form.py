"""Training settings: fields that become a ModelSpec and a TrainConfig, or say why not."""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.validation import Function, Integer, Number, Validator
from textual.widgets import Input, Label, Select, Static, Switch

from charrnn_tui import torch_loader
from charrnn_tui.engine.models import CELLS, IMPLEMENTATIONS, ModelSpec, family_of
from charrnn_tui.engine.storage.store import NAME_RE
from charrnn_tui.engine.training.config import DEFAULT_PATIENCE, TrainConfig
from charrnn_tui.engine.training.optim import OPTIMIZERS
from charrnn_tui.engine.training.precision import accelerator_available
from charrnn_tui.engine.training.presets import (
    AUTO,
    AUTO_ADAPTS,
    DEFAULT_PRESET,
    IMPL_DEFAULTS,
    PRESETS,
    auto_preset,
)

STOP_UNITS = (("seconds", "time_budget"), ("epochs", "epochs"), ("steps", "max_steps"),
              ("no limit (patience)", ""))
NEW_CHAR_POLICIES = {"refuse": "refuse the corpus", "map": "map to a space",
                     "extend": "grow the vocabulary"}  # keys: engine.vocab.POLICIES
SAMPLE_EVERY = 10.0
# ModelSpec.validate needs a vocabulary; before a corpus is chosen, check the rest with this.
_PLACEHOLDER_VOCAB = ["\n", " "]


def _gpu_text(kind: str | None, reason: str) -> str:
    return f"GPU: {reason}" if kind is None else f"GPU: {kind} ({reason})"


class FormError(ValueError):
    """A field that does not parse or a combination that cannot train, in words."""


@dataclass
class Settings:
    arch: dict  # ModelSpec fields except the vocabulary
    config: TrainConfig
    name: str  # empty: derive one


_NAME_RULE = "letters, digits, . _ - (up to 64), starting with a letter or digit"


def _name_ok(value: str) -> bool:
    """Empty is fine: the pane then derives a free name from the corpus and model."""
    return not value.strip() or bool(NAME_RE.match(value.strip()))


# id, label, validator; the order is the order on screen (after the selects above them)
_ARCH_FIELDS: list[tuple[str, str, Validator]] = [
    ("layers", "Layers", Integer(1, 8)),
    ("hidden", "Hidden", Integer(1, 8192)),
    ("embed", "Embedding", Integer(1, 8192)),
    ("dropout", "Dropout", Number(0, 0.95)),
]
_TRAIN_FIELDS: list[tuple[str, str, Validator]] = [
    ("batch", "Batch", Integer(1, 4096)),
    ("seq", "Sequence", Integer(1, 4096)),
    ("lr", "Learn rate", Function(lambda v: not v.strip() or _positive(v),
                                  "a number above 0, or empty for the default")),
    ("seed", "Seed", Integer(0, 2**31 - 1)),
]
# Regularisers (ModelSpec, torch only) and averaging / warm-up (TrainConfig): issue 16.
_REG_ARCH = ("embed_dropout", "locked_dropout", "weight_dropout")
_REG_FIELDS: list[tuple[str, str, Validator]] = [
    ("embed_dropout", "Embed drop", Number(0, 0.95)),
    ("locked_dropout", "Locked drop", Number(0, 0.95)),
    ("weight_dropout", "Weight drop", Number(0, 0.95)),
    ("ema", "Average (EMA)", Number(0, 0.99999)),
    ("warmup_steps", "Warm-up steps", Integer(0, 10**9)),
]
_RUN_FIELDS: list[tuple[str, str, Validator]] = [
    ("eval_every", "Eval every", Number(1, 86400)),
    ("patience", "Patience", Function(lambda v: not v.strip() or _whole(v),
                                      "a whole number, 0 or more, or empty for auto")),
    ("sample_every", "Sample every", Number(0, 86400)),
]
_TOOLTIPS = {"eval_every": "seconds between validation losses",
             "patience": "evaluations without a better validation loss before training stops "
                         f"and keeps its best weights (empty: {DEFAULT_PATIENCE} without a "
                         "stop, never with one; 0: never)",
             "sample_every": "seconds between samples (0: none)"}
_PLACEHOLDERS = {"patience": "auto"}


def _whole(value: str) -> bool:
    try:
        return int(value) >= 0
    except ValueError:
        return False


def _positive(value: str) -> bool:
    try:
        return 0 < float(value) < 10
    except ValueError:
        return False


class TrainForm(VerticalScroll):
    """Everything about the next training run. Arch fields lock when resuming a model."""

    ARCH_IDS = ("impl", "cell", "layers", "hidden", "embed", "dropout", "optimizer", *_REG_ARCH)
    locked = False  # resuming: the model fixes its architecture and optimizer
    frozen = False  # training runs
    corpus_chars: int | None = None  # the text's length, which the auto preset fits

    def compose(self) -> ComposeResult:
        yield self._row("Preset", Select([(p, p) for p in PRESETS], value=DEFAULT_PRESET,
                                         allow_blank=False, id="preset", compact=True))
        yield Static(PRESETS[DEFAULT_PRESET].description, id="preset-hint", classes="hint")
        yield Label("Model", classes="section")
        yield self._row("Library", Select([(i, i) for i in IMPLEMENTATIONS], allow_blank=False,
                                          id="impl", compact=True))
        yield self._row("Cell", Select([(c, c) for c in CELLS], allow_blank=False, id="cell",
                                       compact=True))
        for fid, label, validator in _ARCH_FIELDS:
            yield from self._field(fid, label, validator)
        yield Label("Training", classes="section")
        for fid, label, validator in _TRAIN_FIELDS:
            yield from self._field(fid, label, validator)
        yield self._row("Optimizer", Select([("default", "")] + [(o, o) for o in OPTIMIZERS],
                                            allow_blank=False, id="optimizer", compact=True))
        yield self._row("Schedule", Select([("cosine", "cosine"), ("constant", "constant"),
                                            ("rsqrt", "rsqrt")],
                                           allow_blank=False, id="schedule", compact=True))
        yield from self._field("stop_value", "Stop after", Function(_stop_ok, "a number above 0"))
        yield self._row("", Select([(u, f) for u, f in STOP_UNITS], allow_blank=False,
                                   id="stop_unit", compact=True))
        for fid, label, validator in _RUN_FIELDS:
            yield from self._field(fid, label, validator, _PLACEHOLDERS.get(fid, ""))
        # a row of its own, the form's full width: derived names are long
        yield Horizontal(Label("Save as", classes="field-label"),
                         Static("", id="name-error", classes="field-error", markup=False),
                         classes="field")
        yield Input(id="name", validators=[Function(_name_ok, _NAME_RULE)], compact=True,
                    placeholder="automatic: from the corpus and the model")
        yield self._row("New chars", Select(
            [(v, k) for k, v in NEW_CHAR_POLICIES.items()], value="refuse", allow_blank=False,
            id="new_chars", compact=True, tooltip="what to do with characters of the corpus "
            "that the resumed model never saw"), id="new-chars-row")
        kind, reason = self._accelerator = (accelerator_available() if torch_loader.ready()
                                            else (None, torch_loader.LOADING))
        yield self._row("GPU", Switch(value=False, id="gpu", disabled=kind is None,
                                      tooltip=reason))
        yield Static(_gpu_text(kind, reason), id="gpu-reason", classes="hint")
        yield Label("Regularisation", classes="section")
        for fid, label, validator in _REG_FIELDS:
            yield from self._field(fid, label, validator)

    @staticmethod
    def _row(label: str, *widgets, id: str | None = None) -> Horizontal:
        return Horizontal(Label(label, classes="field-label"), *widgets, classes="field", id=id)

    def _field(self, fid: str, label: str, validator: Validator,
               placeholder: str = "") -> ComposeResult:
        """An input and, at the end of its own row, a mark when its value is wrong: the row
        keeps its height, so an error never moves the fields below under the pointer."""
        yield self._row(label, Input(id=fid, validators=[validator], compact=True,
                                     placeholder=placeholder, tooltip=_TOOLTIPS.get(fid)),
                        Static("", id=f"{fid}-error", classes="field-error", markup=False))

    def show_errors(self) -> list[str]:
        """Mark each input whose value is wrong (its label turns red, a ✗ follows it, its
        tooltip says why) and return the problems in words, in the form's order, for the
        pane's error line. "Save as" has room for the words on its label's row."""
        problems = []
        for widget in self.query(".field-error").results(Static):
            fid = widget.id.removesuffix("-error")
            field = self.query_one(f"#{fid}", Input)
            result = None if field.disabled else field.validate(field.value)
            message = result.failure_descriptions[0] if result and not result.is_valid else ""
            widget.update(f"✗ {message}" if message and fid == "name" else "✗" if message
                          else "")
            widget.display = bool(message)
            row = widget.parent
            row.set_class(bool(message), "-invalid")
            help_text = _TOOLTIPS.get(fid)
            field.tooltip = "\n\n".join(filter(None, (message, help_text))) or None
            if message:
                label = row.query_one(".field-label", Label).content
                problems.append(f"{label}: {message}")
        return problems

    def show_new_chars(self, show: bool) -> None:
        """The new-characters policy matters only when resuming a model."""
        self.query_one("#new-chars-row").display = show

    @property
    def new_chars(self) -> str:
        return self._choice("new_chars") or "refuse"

    def on_mount(self) -> None:
        # the open preset list covers the description only in part ("best text intiny"):
        # the description steps aside while it is open
        hint = self.query_one("#preset-hint", Static)
        self.watch(self.query_one("#preset", Select), "expanded",
                   lambda expanded: setattr(hint, "visible", not expanded))
        self.query_one("#sample_every", Input).value = f"{SAMPLE_EVERY:g}"
        self.apply_preset(DEFAULT_PRESET)

    def on_select_changed(self, event: Select.Changed) -> None:
        if not isinstance(event.value, str):
            return
        if event.select.id == "preset":
            self.query_one("#preset-hint", Static).update(PRESETS[event.value].description)
            if not self.locked:  # a loaded model's form changes only by starting a new one
                self.apply_preset(event.value)
        elif event.select.id == "stop_unit":
            self._refresh_enabled()
        elif (event.select.id == "impl" and not event.select.disabled
              and family_of(event.value).max_layers == 1):
            # the hand-built models have one layer and no regularisers; each its own defaults
            # (the numpy one: the plain rnn cell and the setup that beats min-char-rnn)
            self._set("layers", 1)
            for key in _REG_ARCH:
                self._set(key, 0.0)
            defaults = IMPL_DEFAULTS.get(event.value)
            for key, value in {} if defaults is None else (defaults.model | defaults.train
                                                           ).items():
                if key != "impl":
                    self._set(key, value)
            if family_of(event.value).optimizers is not None:  # its one optimizer: the default
                self._set("optimizer", "")

    # --- filling -----------------------------------------------------------------------
    def _set(self, fid: str, value) -> None:
        widget = self.query_one(f"#{fid}")
        if isinstance(widget, Select):
            widget.value = value
        else:
            widget.value = "" if value is None else f"{value:g}" if isinstance(value, float) \
                else str(value)

    def apply_preset(self, name: str) -> None:
        preset = PRESETS[name]
        if name == AUTO and self.corpus_chars:
            preset, _ = auto_preset(self.corpus_chars)
        defaults = ModelSpec()
        for key in ("impl", "cell", "layers", "hidden", "embed", "dropout", *_REG_ARCH):
            if not self.query_one(f"#{key}").disabled:
                self._set(key, preset.model.get(key, getattr(defaults, key)))
        config = TrainConfig(**preset.train)
        self._fill_training(config, stop=True)
        self._set("eval_every", config.eval_every)  # the preset's, as `train --help` says

    def fit_auto(self, chars: int) -> None:
        """The auto preset's choices for a text of `chars` characters (size, dropout,
        evaluation interval), leaving the fields it does not fit as the user left them."""
        self.corpus_chars = chars
        if self.locked:
            return
        preset, _ = auto_preset(chars)
        for key in AUTO_ADAPTS:
            self._set(key, preset.model.get(key, preset.train.get(key)))

    def _fill_training(self, config: TrainConfig, *, stop: bool) -> None:
        for key in ("batch", "seq", "lr", "seed", "schedule", "ema", "warmup_steps",
                    "patience"):
            self._set(key, getattr(config, key))
        if not self.query_one("#optimizer").disabled:
            self._set("optimizer", config.optimizer or "")
        if not stop:
            return
        for _, field in STOP_UNITS:
            value = getattr(config, field) if field else None
            if value is not None or not field:
                self._set("stop_unit", field)
                self._set("stop_value", "" if not field else value)
                break

    def lock_to(self, spec: ModelSpec, config: dict) -> None:
        """Resume mode: the architecture and optimizer come from the model being resumed."""
        for key in ("impl", "cell", "layers", "hidden", "embed", "dropout", *_REG_ARCH):
            self._set(key, getattr(spec, key))
        self._set("optimizer", config.get("optimizer") or "")
        known = {k: config[k] for k in ("batch", "seq", "lr", "seed", "schedule", "ema",
                                        "warmup_steps", "patience") if k in config}
        self._fill_training(TrainConfig(**known), stop=False)
        self.locked = True
        self._refresh_enabled()

    def unlock(self) -> None:
        self.locked = False
        self._refresh_enabled()

    def freeze(self, frozen: bool) -> None:
        """While training runs nothing changes, except the device (GPU switch)."""
        self.frozen = frozen
        self._refresh_enabled()

    def _refresh_enabled(self) -> None:
        no_stop = not self._choice("stop_unit")
        for widget in self.query("Input, Select"):
            widget.disabled = (self.frozen or (self.locked and widget.id in self.ARCH_IDS)
                               or (widget.id == "stop_value" and no_stop))
        self.query_one("#gpu", Switch).disabled = self._accelerator[0] is None

    def torch_loaded(self, error: str | None) -> None:
        """PyTorch has loaded (or failed to): the GPU switch can say if there is a GPU."""
        kind, reason = self._accelerator = (None, error) if error else accelerator_available()
        self.query_one("#gpu", Switch).tooltip = reason
        self.query_one("#gpu-reason", Static).update(_gpu_text(kind, reason))
        self._refresh_enabled()

    def set_name(self, name: str) -> None:
        self.query_one("#name", Input).value = name

    @property
    def device(self) -> str:
        kind = self._accelerator[0]
        return kind if kind and self.query_one("#gpu", Switch).value else "cpu"

    # --- reading -----------------------------------------------------------------------
    def _text(self, fid: str, label: str) -> str:
        widget = self.query_one(f"#{fid}", Input)
        result = widget.validate(widget.value)
        if result is not None and not result.is_valid:
            raise FormError(f"{label}: {result.failure_descriptions[0]}")
        return widget.value.strip()

    def _choice(self, fid: str) -> str:
        value = self.query_one(f"#{fid}", Select).value
        return value if isinstance(value, str) else ""

    def read(self, vocab: list[str] | None = None) -> Settings:
        """Parse and check every field; FormError names the first problem."""
        arch = {"impl": self._choice("impl"), "cell": self._choice("cell")}
        for fid, label, _ in _ARCH_FIELDS:
            raw = self._text(fid, label)
            arch[fid] = float(raw) if fid == "dropout" else int(raw)
        reg = {fid: self._text(fid, label) or "0" for fid, label, _ in _REG_FIELDS}
        arch |= {fid: float(reg[fid]) for fid in _REG_ARCH}
        try:
            ModelSpec(**arch, vocab=vocab or _PLACEHOLDER_VOCAB).validate()
        except ValueError as e:
            raise FormError(str(e)) from None
        values = {fid: self._text(fid, label) for fid, label, _ in _TRAIN_FIELDS + _RUN_FIELDS}
        unit = self._choice("stop_unit")
        stop: dict = {}
        if unit:
            raw = self._text("stop_value", "Stop after")
            stop[unit] = int(float(raw)) if unit == "max_steps" else float(raw)
        config = TrainConfig(
            batch=int(values["batch"]), seq=int(values["seq"]),
            lr=float(values["lr"]) if values["lr"] else None,
            optimizer=self._choice("optimizer") or None, schedule=self._choice("schedule"),
            seed=int(values["seed"]), eval_every=float(values["eval_every"]),
            sample_every=float(values["sample_every"]), device=self.device,
            ema=float(reg["ema"]), warmup_steps=int(reg["warmup_steps"]),
            patience=int(values["patience"]) if values["patience"] else None, **stop)
        try:
            config.validate(arch["impl"])
        except ValueError as e:
            raise FormError(str(e)) from None
        return Settings(arch, config, self._text("name", "Save as"))


def _stop_ok(value: str) -> bool:
    try:
        return float(value) > 0
    except ValueError:
        return False


"""The job form: every setting and parameter of one job, checked as it is typed.

Each field has a hint line under it that says what the value means (next runs, the
period, the customers) or what is wrong with it; saving is refused while any field is
wrong, with the focus put on the first one. Secrets are write-only: the form only knows
whether each is set, never its value; typing into a secret field replaces the stored
value on save, leaving it empty keeps it. Parameters the task does not know are kept in
the file as written and listed, so saving from the form never drops a user's own keys.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Button, Footer, Header, Input, Label, Select, Static, Switch

from atria_tui.console.screens.confirm import ConfirmScreen
from atria_tui.console.screens.doctor import DoctorScreen
from atria_tui.console.screens.form_modals import SeedImport, SeedPasteScreen, TaskChoiceScreen
from atria_tui.console.screens.host import host_of
from atria_tui.core.model import Level
from atria_tui.engine.secret_store import SecretError, env_name
from atria_tui.job import form_checks as check
from atria_tui.job.file import JobConfig, SourceConfig, save_job
from atria_tui.job.parameters import (
    DEFAULT_CONTRACT_TYPE,
    PARAMETER_NAMES,
    SECRET_NAMES,
    SKU_FIELD_MATCHES,
    ConfigError,
    to_bool,
    validate_parameters,
)
from atria_tui.services.jobs import add_job, shown_path

__all__ = ["JobFormScreen", "TaskChoiceScreen"]

LEVELS = [(level.value, level) for level in Level]
TEXT_PARAMS = ("ApiUrl", "BaseUrl", "ZoneUser", "AgreementType", "ContractType", "BillingPeriod",
               "CustomersFilter")


def _on_off(on: bool) -> str:
    return "on" if on else "off"


class JobFormScreen(Screen[JobConfig | None]):
    """Dismisses with the saved job, or None when cancelled."""

    BINDINGS = [
        Binding("ctrl+s", "save", "Save", id="form.save"),
        Binding("f2", "paste_seed", "Paste seed JSON", id="form.seed"),
        Binding("f5", "test_connection", "Test connection", id="form.test"),
        Binding("escape", "cancel", "Cancel", id="form.cancel"),
    ]

    def __init__(self, job: JobConfig, *, new: bool = False) -> None:
        super().__init__()
        self.job = job
        self.new = new
        self.job_task = job.task
        self._initial: dict[str, Any] = {}
        self._shown: dict[str, check.Check] = {}
        self._ready = False
        self._secret_hints: dict[str, tuple[str, list[str]]] = {}  # stored state, notes

    # --- layout ---------------------------------------------------------------------------

    @property
    def folder(self) -> Path:
        return self.job.path.parent if self.job.path else host_of(self).jobs_dir

    def _row(self, title: str, widget: Widget, hint_id: str = "") -> Horizontal:
        if isinstance(widget, Input | Select):
            widget.compact = True
        body = [widget]
        if hint_id:
            body.append(Static("", id=hint_id, classes="hint", markup=False))
        if isinstance(widget, Switch):  # the state in words, not only the knob's colour
            return Horizontal(Label(title, classes="field-label"), widget,
                              Static(_on_off(widget.value), classes="switch-state"),
                              classes="field")
        return Horizontal(Label(title, classes="field-label"),
                          Vertical(*body, classes="field-body"), classes="field")

    def on_switch_changed(self, event: Switch.Changed) -> None:
        if event.switch.parent is not None:
            for state in event.switch.parent.query(".switch-state").results(Static):
                state.update(_on_off(event.value))

    def compose(self) -> ComposeResult:
        job, task = self.job, self.job_task
        yield Header()
        with VerticalScroll(id="form"):
            what = "New job" if self.new else f"Edit {job.path.name if job.path else 'job'}"
            yield Static(f"{what} · {task.psa_name} ({task.value}, fixed after creation)",
                         id="form-title", markup=False)
            yield self._row("Label", Input(job.label, id="f-label"), "h-label")
            yield self._row("Log level", Select(LEVELS, value=job.log_level,
                                                allow_blank=False, id="f-level"))
            yield self._row("Enabled", Switch(job.enabled, id="f-enabled"))
            yield self._row("Schedule (cron)", Input(job.cron, id="f-cron"), "h-cron")
            yield self._row("Period start day", Input(str(job.period_start_day), type="integer",
                                                      id="f-day"), "h-day")
            yield self._row("Billing source", Select([("file (CSV/JSON export)", "file"),
                                                      ("Atria API", "api")],
                                                     value=job.source.kind, allow_blank=False,
                                                     id="f-kind"))
            yield self._row("Billing file", Input(shown_path(job.source.path, self.folder),
                                                  id="f-path"), "h-path")
            yield self._row("Atria URL", Input(job.source.url, id="f-url"), "h-url")
            yield Static("Parameters", classes="section")
            for name in PARAMETER_NAMES[task]:
                hint = f"hp-{name}" if name in TEXT_PARAMS else ""
                yield self._row(name, self._param_widget(name), hint)
            yield Static("", id="other-params", markup=False)
            yield Static("Secrets (write-only: stored encrypted, never shown; type a value "
                         "to replace it, leave empty to keep it)", classes="section")
            for name in SECRET_NAMES[task]:
                yield self._row(name, Input(password=True, id=f"s-{name}"), f"hs-{name}")
            with Horizontal(classes="form-buttons"):
                yield Button("Save", id="save", variant="primary")
                yield Button("Paste seed JSON", id="paste-seed")
                yield Button("Test connection", id="test-connection")
                yield Button("Cancel", id="cancel")
        yield Footer()

    def _param_widget(self, name: str) -> Widget:
        value = self.job.param(name)
        wid = f"p-{name}"
        if name == "AllowAtriaCreateAdditions":
            try:
                on = to_bool(value, name) if value is not None else False
            except ConfigError:
                on = False
            return Switch(on, id=wid)
        if name == "SKUFieldMatch":
            current = value if value in SKU_FIELD_MATCHES else "ServiceName"
            return Select([(m, m) for m in SKU_FIELD_MATCHES], value=current,
                          allow_blank=False, id=wid)
        if isinstance(value, list):
            text = ", ".join(str(v) for v in value)
        else:
            text = "" if value is None else str(value)
        return Input(text, id=wid)

    def on_mount(self) -> None:
        self.sub_title = "new job" if self.new else "edit job"
        self._secret_status()
        others = [e for e in validate_parameters(self.job_task, self.job.parameters)
                  if e.expected.startswith("unknown parameter")]
        if others:
            self.query_one("#other-params", Static).update(
                "Kept as written, not used by this task: "
                + ", ".join(e.field for e in others))
        self.validate()
        self._initial = self._values()
        self._ready = True
        self.query_one("#f-label", Input).focus()

    def _secret_status(self) -> None:
        app = host_of(self)
        stored = set()
        if not self.new:
            try:
                stored = {n.casefold() for n in app.services.secrets.names_set(
                    self.job.key)}
            except SecretError as exc:
                self.notify(str(exc), severity="error")
        for name in SECRET_NAMES[self.job_task]:
            state = "set" if name.casefold() in stored else "not set"
            field = self.query_one(f"#s-{name}", Input)
            field.placeholder = f"{state} · type to replace" if state == "set" else state
            extra = []
            if app.services.environ.get(env_name(name)):
                extra.append(f"{env_name(name)} in the environment overrides it")
            if name == "AtriaToken":
                extra.append("only for billing source Atria API")
            self._secret_hints[name] = (state, extra)
            self._secret_hint(name)

    def _secret_hint(self, name: str) -> None:
        """A typed secret is not stored until the job is saved, and its hint says so
        rather than still reading "not set" (console review, defect 29)."""
        state, extra = self._secret_hints.get(name, ("not set", []))
        if self.query_one(f"#s-{name}", Input).value:
            state = "typed · stored encrypted when you save (^s)"
        self.query_one(f"#hs-{name}", Static).update(" · ".join([state, *extra]))

    # --- values and checks ------------------------------------------------------------------

    def _input(self, wid: str) -> str:
        return self.query_one(f"#{wid}", Input).value

    def _values(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for widget in self.query("Input, Select, Switch"):
            if widget.id:
                values[widget.id] = getattr(widget, "value", None)
        return values

    def _checks(self) -> dict[str, check.Check]:
        app = host_of(self)
        now = app.now()
        day_check, day = check.start_day(self._input("f-day"))
        kind = self.query_one("#f-kind", Select).value
        checks = {
            "f-label": check.label(self._input("f-label")),
            "f-cron": check.cron(self._input("f-cron"), now),
            "f-day": day_check,
            "f-path": (check.source_path(self._input("f-path"), self.folder)
                       if kind == "file" else check.Check()),
            "f-url": (check.api_url(self._input("f-url")) if kind == "api" else check.Check()),
        }
        for name in PARAMETER_NAMES[self.job_task]:
            if name not in TEXT_PARAMS:
                continue
            text = self._input(f"p-{name}")
            if name == "ApiUrl":
                result = check.api_url(text)
            elif name == "BaseUrl":  # blank: the PSA finds its API itself (a zone lookup)
                result = (check.api_url(text) if text.strip()
                          else check.Check(hint="blank: looked up for ZoneUser"))
            elif name == "ZoneUser":
                result = check.Check(hint="" if text.strip() else "blank: the UserName secret")
            elif name == "BillingPeriod":
                result = check.billing_period(text, day, now.date())
            elif name == "CustomersFilter":
                result = check.customers(text)
            else:
                result = check.contract_type(text, DEFAULT_CONTRACT_TYPE[self.job_task])
            checks[f"p-{name}"] = result
        return checks

    def validate(self) -> list[str]:
        """Refresh every hint; the ids of the fields that block saving, in form order."""
        kind = self.query_one("#f-kind", Select).value
        for wid in ("f-path", "f-url"):
            row = self.query_one(f"#{wid}").parent.parent  # type: ignore[union-attr]
            wanted = (wid == "f-path") == (kind == "file")
            if row is not None and row.display != wanted:
                row.display = wanted
        checks = self._checks()
        for wid, result in checks.items():
            if self._shown.get(wid) == result:
                continue  # restyling unchanged fields on every keystroke is what costs
            self._shown[wid] = result
            hint = self.query_one(f"#h{wid}" if wid.startswith("p-") else
                                  f"#h-{wid[2:]}", Static)
            hint.update(result.error or result.hint)
            hint.display = bool(result.error or result.hint)
            hint.set_class(not result.ok, "error")
            self.query_one(f"#{wid}").set_class(not result.ok, "-invalid")
        return [wid for wid, result in checks.items() if not result.ok]

    def on_input_changed(self, event: Input.Changed) -> None:
        wid = event.input.id or ""
        if self._ready and wid.startswith("s-"):
            self._secret_hint(wid[2:])
        elif self._ready and wid:
            self.validate()

    def on_select_changed(self, event: Select.Changed) -> None:
        if self._ready:
            self.validate()

    # --- actions --------------------------------------------------------------------------

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        {"save": self.action_save, "paste-seed": self.action_paste_seed,
         "test-connection": self.action_test_connection,
         "cancel": self.action_cancel}[event.button.id or "cancel"]()

    def action_cancel(self) -> None:
        if self._values() == self._initial:
            self.dismiss(None)
            return

        def answered(ok: bool | None) -> None:
            if ok:
                self.dismiss(None)

        self.app.push_screen(ConfirmScreen("Discard your changes?", "Nothing of this form "
                                           "has been saved.", confirm="Discard", danger=True),
                             answered)

    def action_paste_seed(self) -> None:
        self.app.push_screen(SeedPasteScreen(self.job_task), self.fill_from_seed)

    def fill_from_seed(self, data: SeedImport | None) -> None:
        if data is None:
            return
        for name, value in data.parameters.items():
            widget = self.query_one(f"#p-{name}")
            if isinstance(widget, Switch):
                widget.value = bool(value)
            elif isinstance(widget, Select):
                widget.value = value
            elif isinstance(widget, Input):
                widget.value = ", ".join(value) if isinstance(value, list) else str(value)
        for name, value in data.secrets.items():
            self.query_one(f"#s-{name}", Input).value = value
        self.validate()
        self.notify(f"Filled {len(data.parameters)} parameter(s) and {len(data.secrets)} "
                    "secret(s); check them and save (ctrl+s)", title="Seed JSON")

    def action_test_connection(self) -> None:
        """`atria-tui doctor` on the form as it stands (typed secrets included), read-only."""
        if not self._fields_ok("a test"):
            return
        typed = {name: self.query_one(f"#s-{name}", Input).value
                 for name in SECRET_NAMES[self.job_task]}
        self.app.push_screen(DoctorScreen(self._build(), typed))

    def _fields_ok(self, what: str) -> bool:
        """Every field passes its check; else say how many do not and go to the first."""
        bad = self.validate()
        if bad:
            self.notify(f"{len(bad)} field(s) need attention before {what}", severity="error")
            self.query_one(f"#{bad[0]}").focus()
        return not bad

    def action_save(self) -> None:
        if not self._fields_ok("saving"):
            return
        job = self._build()
        app = host_of(self)
        try:
            if self.new:
                add_job(app.jobs_dir, job)
            else:
                save_job(job)
        except OSError as exc:
            self.notify(f"Could not save {job.path or app.jobs_dir}: {exc.strerror or exc}",
                        severity="error", timeout=10)
            return
        stored = 0
        for name in SECRET_NAMES[self.job_task]:
            value = self.query_one(f"#s-{name}", Input).value
            if value.strip():
                try:
                    app.services.secrets.set(job.key, name, value)
                    stored += 1
                except SecretError as exc:
                    self.notify(f"{name}: {exc}", severity="error", timeout=10)
        self.notify(f"Saved {job.path.name if job.path else job.label}"
                    + (f"; {stored} secret(s) stored encrypted" if stored else ""))
        self.dismiss(job)

    def _build(self) -> JobConfig:
        """A copy of the job with the form's values; the original stays as loaded."""
        kind = str(self.query_one("#f-kind", Select).value)
        path_text = self._input("f-path").strip()
        path = Path(path_text).expanduser() if path_text else None
        if path is not None and not path.is_absolute():
            path = (self.folder / path).absolute()
        params = dict(self.job.parameters)
        for name in PARAMETER_NAMES[self.job_task]:
            widget = self.query_one(f"#p-{name}")
            if isinstance(widget, Switch | Select):
                params[name] = widget.value
            elif name == "CustomersFilter":
                params[name] = check.parse_customers(self._input(f"p-{name}"))
            else:
                text = self._input(f"p-{name}").strip()
                if name == "BillingPeriod" and text.casefold() in ("current", "previous"):
                    text = text.capitalize()
                params[name] = text
        return dataclasses.replace(
            self.job, label=self._input("f-label").strip(),
            log_level=Level(str(self.query_one("#f-level", Select).value)),
            enabled=self.query_one("#f-enabled", Switch).value,
            cron=" ".join(self._input("f-cron").split()),
            period_start_day=int(self._input("f-day")),
            source=SourceConfig(kind="api" if kind == "api" else "file", path=path,
                                url=self._input("f-url").strip()),
            parameters=params)

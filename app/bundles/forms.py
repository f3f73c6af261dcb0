"""The import options and the export form of the template pages."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict
from wtforms import SelectChoice, StringField  # type: ignore[attr-defined]  # WTForms 3.2; types-WTForms lacks it
from wtforms.validators import InputRequired, Length, Regexp

from templates_lib import INDUSTRIES, Bundle

from ..forms import CheckboxesField
from .plan import POLICIES
from .preview import KIND_LABELS

CHOICE_PREFIX = "choice:"
PARAM_PREFIX = "param:"
PEOPLE_PREFIX = "people:"
_FLAGS = ("publish", "create_fields", "allow_hosts")


def import_options(form: MultiDict[str, str], bundle: Bundle) -> dict[str, Any]:
    """The keyword arguments of a dry run or an import, read from the import form.

    ``choice:<kind>:<key>`` settles one conflict; ``param:<name>`` sets a bundle parameter
    (left empty, its default applies). Values are checked by the service.
    """
    policy = form.get("policy", "rename")
    options: dict[str, Any] = {
        "policy": policy if policy in POLICIES else "rename",
        **{flag: form.get(flag) in ("1", "on", "true") for flag in _FLAGS},
    }
    options["params"] = {
        name: form.get(PARAM_PREFIX + name, "").strip()[:500]
        for name in bundle.parameters
        if form.get(PARAM_PREFIX + name, "").strip()
    }
    options["people"] = people_options(form)
    options["choices"] = {
        name[len(CHOICE_PREFIX) :]: value
        for name, value in form.items()
        if name.startswith(CHOICE_PREFIX) and value in POLICIES
    }
    return options


def people_options(form: MultiDict[str, str]) -> dict[str, Any]:
    """``people:<kind>:<key>`` maps a key the bundle's flows name to one of this organisation's
    (or ``new``: create the business role, named by ``people_zh:``/``people_en:<kind>:<key>``)."""
    out: dict[str, Any] = {}
    for name, value in form.items():
        if not name.startswith(PEOPLE_PREFIX) or not value.strip():
            continue
        ref = name[len(PEOPLE_PREFIX) :]
        value = value.strip()[:64]
        if value == "new":
            names = {
                lang: form.get(f"people_{lang}:{ref}", "").strip()[:128] for lang in ("zh", "en")
            }
            out[ref] = names if any(names.values()) else value
        else:
            out[ref] = value
    return out


def default_options(bundle: Bundle) -> dict[str, Any]:
    """The options the import form starts with: drafts, conflicts renamed."""
    return import_options(MultiDict(), bundle)


def param_values(options: Mapping[str, Any], bundle: Bundle) -> dict[str, str]:
    """What each parameter input shows: the admin's value, else the default."""
    return bundle.parameter_values(options.get("params"))


class ExportForm(FlaskForm):
    bundle_id = StringField(
        _l("Bundle id"),
        validators=[
            InputRequired(message=_l("Give the bundle an id.")),
            Regexp(
                r"^[a-z0-9][a-z0-9_.-]{0,63}$",
                message=_l("Use lower-case letters, digits, . _ and -."),
            ),
        ],
    )
    name_zh = StringField(
        _l("Name (Chinese)"),
        validators=[InputRequired(message=_l("Give the bundle a Chinese name.")), Length(max=200)],
    )
    name_en = StringField(
        _l("Name (English)"),
        validators=[InputRequired(message=_l("Give the bundle an English name.")), Length(max=200)],
    )
    description_zh = StringField(_l("Description (Chinese)"), validators=[Length(max=2000)])
    description_en = StringField(_l("Description (English)"), validators=[Length(max=2000)])
    version = StringField(
        _l("Version"),
        default="1.0.0",
        validators=[Regexp(r"^\d+\.\d+\.\d+$", message=_l("Use x.y.z, e.g. 1.0.0."))],
    )
    industries = CheckboxesField(_l("Industries"), default=["general"])
    flows = CheckboxesField(
        _l("Flows"), validators=[InputRequired(message=_l("Choose at least one flow."))]
    )
    tables = CheckboxesField(_l("Reference tables"))
    items = CheckboxesField(_l("Alert rules, texts and status mappings"))

    def set_choices(self, lang: str, flows: list[Any], tables: list[Any], items: list[Any]) -> None:
        """Offer the installation's own flows, tables and kept items."""
        self.industries.choices = [SelectChoice(k, v[lang]) for k, v in INDUSTRIES.items()]
        self.flows.choices = [
            SelectChoice(f.key, f"{(f.name_zh if lang == 'zh' else f.name_en) or f.key} ({f.key})")
            for f in flows
        ]
        self.tables.choices = [SelectChoice(t.name, t.name) for t in tables]
        self.items.choices = [
            SelectChoice(f"{i.kind}:{i.key}", f"{_item_name(i, lang)} ({i.key})") for i in items
        ]


def _item_name(item: Any, lang: str) -> str:

    name = item.data.get("name") or item.data.get("subject")
    text = ""
    if isinstance(name, Mapping):
        text = str(name.get(lang) or name.get("en") or "")
    return (
        f"{KIND_LABELS.get(item.kind, item.kind)}: {text}"
        if text
        else str(KIND_LABELS.get(item.kind, item.kind))
    )

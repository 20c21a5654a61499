from __future__ import annotations

import datetime
import functools
import re

import zipcodes
from django import forms
from django.forms.boundfield import BoundField
from django.forms.utils import flatatt
from django.utils.choices import BaseChoiceIterator
from django.utils.functional import cached_property
from django.utils.html import conditional_escape, escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from directory.languages import LANGUAGES
from directory.models import WEEKDAYS, Schedule, Service
from directory.search import Point, SearchParams, zip_point
from directory.taxonomy import NEED_NAMES, term_choices
from handoff.forms import mark_invalid

RADIUS_CHOICES = [
    ("1", _("1 mile")),
    ("2", _("2 miles")),
    ("5", _("5 miles")),
    ("10", _("10 miles")),
    ("25", _("25 miles")),
    ("50", _("50 miles")),
]
DAY_NAMES = [
    _("Monday"),
    _("Tuesday"),
    _("Wednesday"),
    _("Thursday"),
    _("Friday"),
    _("Saturday"),
    _("Sunday"),
]
OPEN_CHOICES = [("", _("Any time")), ("now", _("Open now"))] + [
    (str(i), name) for i, name in enumerate(DAY_NAMES)
]
# The empty choice sorts by distance when a ZIP code is given, else by best match (search.py).
SORT_CHOICES = [
    ("", _("Automatic")),
    ("distance", _("Nearest first")),
    ("relevance", _("Best match")),
]
ZIP_FORMAT = re.compile(r"\d{5}(-\d{4})?")


class ReadyChoices(BaseChoiceIterator):
    """Choices already in Django's normalized form, shared by every copy of the field.

    A form copies its fields for each instance, and setting or copying a list of choices
    normalizes or deep-copies every pair: for the search form's ~270 options that was ~2 ms
    of each search page. These lists are never changed in place, so copies share them, and
    each keeps its <option> markup per language (QuickSelect).
    """

    def __init__(self, choices: list[tuple[str, str]]):
        self.choices = choices
        self._options_html: dict[str, str] = {}

    def __iter__(self):
        return iter(self.choices)

    def __deepcopy__(self, memo):
        return self

    def options_html(self, language: str) -> str:
        html = self._options_html.get(language)
        if html is None:
            html = self._options_html[language] = _options_html(
                tuple((str(value), str(label)) for value, label in self.choices)
            )
        return html


class QuickSelect(forms.Select):
    """A <select> whose options are formatted in Python, not by a template each.

    The search form has about 170 options (110 taxonomy terms); through the option template
    they took ~10 ms of every search page. The options' markup is kept per language and
    list of choices (a few lists, two languages), so a page only marks the chosen one. Same
    markup, including the USWDS class that handoff.forms.USWDSRenderer adds to
    template-rendered selects.
    """

    widget_type = "select"

    def render(self, name, value, attrs=None, renderer=None):
        final = self.build_attrs(self.attrs, attrs)
        if "usa-" not in final.get("class", ""):
            final["class"] = f"{final.get('class', '')} usa-select".strip()
        mark_invalid(final)
        language = get_language()
        if isinstance(self.choices, ReadyChoices):
            options = self.choices.options_html(language)
        else:
            options = _options_html(tuple((str(v), str(label)) for v, label in self.choices))
        for chosen in self.format_value(value):
            start = f'<option value="{escape(chosen)}">'
            options = options.replace(start, f"{start[:-1]} selected>", 1)
        return format_html(
            '<select name="{}"{}>\n{}\n</select>', name, flatatt(final), mark_safe(options)
        )


@functools.lru_cache(maxsize=64)
def _options_html(choices: tuple[tuple[str, str], ...]) -> str:
    # Keyed by the translated labels: the taxonomy's list is made anew for each form.
    return "\n".join(
        f'<option value="{escape(value)}">{escape(label)}</option>' for value, label in choices
    )


def _attrs_html(attrs: dict) -> str:
    """What django/forms/widgets/attrs.html writes: True as a bare name, False left out."""
    return "".join(
        f" {escape(name)}" if value is True else f' {escape(name)}="{escape(value)}"'
        for name, value in attrs.items()
        if value is not False
    )


class QuickInputMixin:
    """An <input> written in Python, as django/forms/widgets/input.html writes it.

    The search form's inputs rendered through three templates each (input, attrs, and the
    project renderer's hook); QuickSelect's reasoning holds. Adds the USWDS class that
    handoff.forms.USWDSRenderer adds to template-rendered inputs.
    """

    uswds_class = "usa-input"

    def render(self, name, value, attrs=None, renderer=None):
        widget = self.get_context(name, value, attrs)["widget"]
        final = widget["attrs"]
        if self.uswds_class and "usa-" not in final.get("class", ""):
            final["class"] = f"{final.get('class', '')} {self.uswds_class}".strip()
        mark_invalid(final)
        shown = "" if widget["value"] is None else f' value="{escape(widget["value"])}"'
        return mark_safe(
            f'<input type="{escape(widget["type"])}" name="{escape(name)}"{shown}{_attrs_html(final)}>'
        )


class QuickTextInput(QuickInputMixin, forms.TextInput):
    widget_type = "text"


class QuickNumberInput(QuickInputMixin, forms.NumberInput):
    widget_type = "number"


class QuickCheckboxInput(QuickInputMixin, forms.CheckboxInput):
    uswds_class = "usa-checkbox__input"
    widget_type = "checkbox"


class QuickHiddenInput(QuickInputMixin, forms.HiddenInput):
    uswds_class = ""
    widget_type = "hidden"


class DefaultShownBoundField(BoundField):
    """A field left out of the data, or refused, shows its default: what the search uses.

    SearchForm.params searches with a field's default in both cases. Without this a page
    with no radius showed "1 mile", its first choice, above results from within 10 miles,
    and the next change of any filter sent 1.
    """

    def value(self):
        value = super().value()
        if (
            self.form.is_bound
            and self.field.initial is not None
            and (value in (None, "") or self.errors)
        ):
            return self.field.initial
        return value


class QuickBoundField(DefaultShownBoundField):
    """A bound field written in Python, as templates/forms/field.html writes it.

    The search page renders its ten field groups through that template on every request
    (~1.3 ms); this writes the same markup, escaped as autoescaping does (conditional_escape). widget_type is the Django
    widget's a Quick* widget stands in for: Django derives it from the class name, and the
    template (and this) lays out a checkbox by it.
    """

    @cached_property
    def widget_type(self) -> str:
        return getattr(self.field.widget, "widget_type", None) or super().widget_type

    def as_field_group(self) -> SafeString:
        if self.use_fieldset:
            # A list of checkboxes or radios: the template's fieldset markup, not written here.
            return super().as_field_group()
        auto_id = conditional_escape(self.auto_id)
        errors = ""
        if self.errors:
            errors = (
                f'<span class="usa-error-message" id="{auto_id}_error" role="alert">'
                f"{' '.join(conditional_escape(error) for error in self.errors)}</span>"
            )
        hint = (
            f'<div class="usa-hint" id="{auto_id}_helptext">{self.help_text}</div>'
            if self.help_text
            else ""
        )
        if self.widget_type == "checkbox":
            body = (
                f'{errors}<div class="usa-checkbox">{self}<label class="usa-checkbox__label"'
                f' for="{auto_id}">{conditional_escape(self.label)}</label></div>{hint}'
            )
        else:
            required = (
                ' <span class="usa-hint usa-hint--required" aria-hidden="true">*</span>'
                if self.field.required
                else ""
            )
            label_class = "usa-label usa-label--error" if self.errors else "usa-label"
            body = f'<label class="{label_class}" for="{auto_id}">{conditional_escape(self.label)}{required}</label>\n{hint}\n{errors}\n{self}'
        group_class = "usa-form-group usa-form-group--error" if self.errors else "usa-form-group"
        return mark_safe(f'<div class="{group_class}">\n{body}\n</div>')


class SearchForm(forms.Form):
    bound_field_class = QuickBoundField

    q = forms.CharField(
        label=_("Words"),
        required=False,
        max_length=200,
        help_text=_("For example: food pantry, rent, rides"),
        widget=QuickTextInput,
    )
    need = forms.ChoiceField(
        label=_("Need"),
        required=False,
        choices=ReadyChoices([("", _("Any need")), *NEED_NAMES.items()]),
        widget=QuickSelect,
    )
    term = forms.TypedChoiceField(
        label=_("Type of service"), required=False, coerce=int, empty_value=None, widget=QuickSelect
    )
    zip = forms.CharField(
        label=_("Near ZIP code"), required=False, max_length=10, widget=QuickTextInput
    )
    radius = forms.TypedChoiceField(
        label=_("Within"),
        required=False,
        choices=ReadyChoices(RADIUS_CHOICES),
        coerce=float,
        empty_value=10.0,
        initial="10",
        widget=QuickSelect,
    )
    open = forms.ChoiceField(
        label=_("Open"), required=False, choices=ReadyChoices(OPEN_CHOICES), widget=QuickSelect
    )
    language = forms.ChoiceField(
        label=_("Language spoken"),
        required=False,
        choices=ReadyChoices([("", _("Any language")), *LANGUAGES.items()]),
        widget=QuickSelect,
    )
    age = forms.IntegerField(
        label=_("Age of the person"),
        required=False,
        min_value=0,
        max_value=120,
        error_messages={
            "min_value": _("Enter an age from 0 to 120."),
            "max_value": _("Enter an age from 0 to 120."),
            "invalid": _("Enter an age from 0 to 120."),
        },
        widget=QuickNumberInput,
    )
    accepting = forms.BooleanField(
        label=_("Only services accepting referrals"), required=False, widget=QuickCheckboxInput
    )
    sort = forms.ChoiceField(
        label=_("Sort"),
        required=False,
        choices=ReadyChoices(SORT_CHOICES),
        help_text=_(
            "Automatic: nearest first when a ZIP code is given, otherwise best match. "
            "Nearest first needs a ZIP code."
        ),
        widget=QuickSelect,
    )
    page = forms.IntegerField(required=False, min_value=1, widget=QuickHiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["term"].choices = ReadyChoices(term_choices())  # read when the form is made

    def clean_zip(self) -> str:
        value = self.cleaned_data["zip"].strip()
        if not value or zip_point(value) is not None:
            return value
        if not ZIP_FORMAT.fullmatch(value):
            raise forms.ValidationError(
                _("Enter a 5-digit US ZIP code, like 02118."), code="format"
            )
        # Five digits we cannot place: often a real ZIP code for PO boxes or one business,
        # which the offline ZIP data leaves out (02101 in Boston).
        nearby = _nearby_zip(value[:5])
        if nearby:
            raise forms.ValidationError(
                _(
                    "We have no location for the ZIP code %(zip)s (some ZIP codes are only for "
                    "PO boxes). Try a nearby ZIP code, like %(nearby)s, or the person's home ZIP code."
                ),
                code="no_location",
                params={"zip": value, "nearby": nearby},
            )
        raise forms.ValidationError(
            _(
                "We have no location for the ZIP code %(zip)s. Check it, or try the person's "
                "home ZIP code."
            ),
            code="no_location",
            params={"zip": value},
        )

    def params(self) -> SearchParams:
        data = self.cleaned_data
        origin: Point | None = zip_point(data["zip"]) if data.get("zip") else None
        open_choice = data.get("open") or ""
        return SearchParams(
            q=data.get("q") or "",
            need=data.get("need") or "",
            term=data.get("term"),
            origin=origin,
            radius=data.get("radius") or 10.0,
            sort=data.get("sort") or "",
            open_now=open_choice == "now",
            open_day=int(open_choice) if open_choice.isdigit() else None,
            language=data.get("language") or "",
            age=data.get("age"),
            accepting=bool(data.get("accepting")),
            page=data.get("page") or 1,
        )


@functools.lru_cache(maxsize=256)
def _nearby_zip(zip_code: str) -> str:
    """The closest-numbered ZIP code with a location in the same 3-digit area, or ""."""
    try:
        area = zipcodes.similar_to(zip_code[:3])
    except (TypeError, ValueError):
        return ""
    placed = [z["zip_code"] for z in area if z.get("lat") and z.get("long")]
    if not placed:
        return ""
    return min(placed, key=lambda other: abs(int(other) - int(zip_code)))


class ServiceEditForm(forms.ModelForm):
    languages = forms.MultipleChoiceField(
        label=_("Languages spoken"),
        required=False,
        choices=list(LANGUAGES.items()),
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = Service
        fields = [
            "name",
            "description",
            "eligibility_description",
            "minimum_age",
            "maximum_age",
            "accepts_referrals",
            "capacity",
            "response_time_days",
            "application_process",
            "fees_description",
        ]
        widgets = {
            "description": forms.Textarea(attrs={"rows": 4}),
            "eligibility_description": forms.Textarea(attrs={"rows": 2}),
            "application_process": forms.Textarea(attrs={"rows": 2}),
            "fees_description": forms.Textarea(attrs={"rows": 2}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["languages"].initial = list(
                self.instance.languages.values_list("code", flat=True)
            )

    def clean(self):
        data = super().clean()
        low, high = data.get("minimum_age"), data.get("maximum_age")
        if low is not None and high is not None and low > high:
            self.add_error("maximum_age", _("The maximum age must not be below the minimum age."))
        return data


class ScheduleForm(forms.ModelForm):
    days = forms.MultipleChoiceField(
        label=_("Days"),
        choices=list(zip(WEEKDAYS, DAY_NAMES, strict=True)),
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Choose the days these hours are for.")},
    )

    class Meta:
        model = Schedule
        fields = ["opens_at", "closes_at", "timezone"]
        widgets = {
            "opens_at": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "closes_at": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        }
        help_texts = {
            "closes_at": _(
                "A closing time before the opening time means open past midnight. "
                "12:00 AM to 12:00 AM means open all day."
            )
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["days"].initial = [d for d in self.instance.byday.split(",") if d]
        elif self.empty_permitted and not (self.is_bound and self.has_changed()):
            # The blank "Add hours" row is optional until something is typed in it, so it
            # shows no required marks. Only the marks change: the formset skips validating an
            # empty row it permits, and a row with something typed keeps its required fields.
            for field in self.fields.values():
                field.required = False

    @property
    def legend(self) -> str:
        """The row's name on the page and in the error summary: "Hours 2" or "Add hours"."""
        if not self.instance.pk:
            return _("Add hours")
        number = int(self.prefix.rsplit("-", 1)[-1]) + 1
        return _("Hours %(n)d") % {"n": number}

    def clean(self):
        cleaned = super().clean()
        opens, closes = cleaned.get("opens_at"), cleaned.get("closes_at")
        # Stored, the same two times mean 24 hours from the opening time; typed, they are
        # nearly always a slip (10:00 to 10:00 for 10:00 to 6:00).
        if opens is not None and opens == closes and opens != datetime.time(0):
            self.add_error(
                "closes_at",
                _(
                    "The closing time is the same as the opening time. For open all day, enter 12:00 AM for both."
                ),
            )
        return cleaned

    def save(self, commit: bool = True):
        self.instance.byday = ",".join(d for d in WEEKDAYS if d in self.cleaned_data["days"])
        return super().save(commit=commit)


ScheduleFormSet = forms.inlineformset_factory(
    Service, Schedule, form=ScheduleForm, fk_name="service", extra=1, can_delete=True
)

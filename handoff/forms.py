"""Project-wide form rendering: every Django form renders as accessible USWDS fields."""

from __future__ import annotations

from dataclasses import dataclass

from django.forms import BaseForm, BaseFormSet, BoundField
from django.forms.renderers import TemplatesSetting

# Lists of choices render one USWDS checkbox or radio per option
# (templates/django/forms/widgets/checkbox_select.html and radio.html); the class goes on each
# option's input, never on the list around them.
CHOICE_LIST_INPUT_CLASSES = {
    "django/forms/widgets/checkbox_select.html": "usa-checkbox__input",
    "django/forms/widgets/radio.html": "usa-radio__input",
}


def mark_invalid(attrs: dict) -> None:
    """A field with an error (Django sets aria-invalid) gets USWDS's red border too."""
    css = attrs.get("class", "").split()
    invalid = attrs.get("aria-invalid") in (True, "true")
    styled = any(c in css for c in ("usa-input", "usa-select", "usa-textarea"))
    if invalid and styled and "usa-input--error" not in css:
        attrs["class"] = " ".join([*css, "usa-input--error"])


class USWDSRenderer(TemplatesSetting):
    form_template_name = "forms/form.html"
    field_template_name = "forms/field.html"

    def render(self, template_name, context, request=None):
        # Add USWDS classes to each widget as it renders.
        widget = context.get("widget")
        if widget is not None and template_name in CHOICE_LIST_INPUT_CLASSES:
            input_class = CHOICE_LIST_INPUT_CLASSES[template_name]
            for _group, options, _index in widget["optgroups"]:
                for option in options:
                    attrs = option.setdefault("attrs", {})
                    css = attrs.get("class", "")
                    if "usa-" not in css:
                        attrs["class"] = f"{css} {input_class}".strip()
        elif widget is not None and template_name.startswith("django/forms/widgets/"):
            attrs = widget.setdefault("attrs", {})
            css = attrs.get("class", "")
            kind = widget.get("type")
            if "usa-" not in css:
                if template_name.endswith("select.html"):
                    css = f"{css} usa-select".strip()
                elif template_name.endswith("textarea.html"):
                    css = f"{css} usa-textarea".strip()
                elif kind == "checkbox" and template_name.endswith("checkbox.html"):
                    css = f"{css} usa-checkbox__input".strip()
                elif kind not in ("checkbox", "radio", "hidden", "file"):
                    css = f"{css} usa-input".strip()
                if css:
                    attrs["class"] = css
            mark_invalid(attrs)
        return super().render(template_name, context, request)


@dataclass(frozen=True)
class ErrorLink:
    """One line of an error summary: what is wrong, and the id of the input to fix it in."""

    text: str
    target: str  # "" for an error of the whole form


def error_links(*forms_or_formsets) -> list[ErrorLink]:
    """Every error of the forms (and formsets), in page order, for an error summary.

    A formset's form is named by its ``legend`` when it has one ("Hours 2"), so two rows'
    "Days" errors can be told apart.
    """
    links: list[ErrorLink] = []
    for item in forms_or_formsets:
        if isinstance(item, BaseFormSet):
            links += [ErrorLink(str(error), "") for error in item.non_form_errors()]
            for form in item:
                links += _form_error_links(form, getattr(form, "legend", ""))
        else:
            links += _form_error_links(item, "")
    return links


def _form_error_links(form: BaseForm, where: str) -> list[ErrorLink]:
    links = [
        ErrorLink(f"{where}: {error}" if where else str(error), "")
        for error in form.non_field_errors()
    ]
    for field in form:
        label = f"{where}, {field.label}" if where else str(field.label)
        links += [ErrorLink(f"{label}: {error}", _input_id(field)) for error in field.errors]
    return links


def _input_id(field: BoundField) -> str:
    # A list of checkboxes or radios has no element with the field's own id to focus: its
    # label is a legend (Django leaves id_for_label empty), so link to the first option.
    if field.is_hidden:
        return ""
    return field.id_for_label or (f"{field.auto_id}_0" if field.auto_id else "")

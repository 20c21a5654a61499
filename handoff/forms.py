"""Project-wide form rendering: every Django form renders as accessible USWDS fields."""

from __future__ import annotations

from django.forms.renderers import TemplatesSetting

# Lists of choices render one USWDS checkbox or radio per option
# (templates/django/forms/widgets/checkbox_select.html and radio.html); the class goes on each
# option's input, never on the list around them.
CHOICE_LIST_INPUT_CLASSES = {
    "django/forms/widgets/checkbox_select.html": "usa-checkbox__input",
    "django/forms/widgets/radio.html": "usa-radio__input",
}


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
        return super().render(template_name, context, request)

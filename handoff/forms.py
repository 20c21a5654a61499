"""Project-wide form rendering: every Django form renders as accessible USWDS fields."""

from __future__ import annotations

from django.forms.renderers import TemplatesSetting


class USWDSRenderer(TemplatesSetting):
    form_template_name = "forms/form.html"
    field_template_name = "forms/field.html"

    def render(self, template_name, context, request=None):
        # Add USWDS classes and aria-describedby for errors to each widget as it renders.
        widget = context.get("widget")
        if widget is not None and template_name.startswith("django/forms/widgets/"):
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

from __future__ import annotations

from django import forms
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from screening.instrument import instruments
from screening.models import need_category_choices


class AddNeedForm(forms.Form):
    category = forms.ChoiceField(
        label=_("Need"), error_messages={"required": _("Choose the need to add.")}
    )
    note = forms.CharField(
        label=_("What did the person tell you?"),
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
    )

    def __init__(self, *args, patient, **kwargs):
        super().__init__(*args, **kwargs)
        active = set(patient.needs.active().values_list("category", flat=True))
        # An empty first choice: otherwise the first need is selected and one click adds it.
        self.fields["category"].choices = [
            ("", _("Choose a need")),
            *((code, name) for code, name in need_category_choices() if code not in active),
        ]


class ResolveNeedForm(forms.Form):
    note = forms.CharField(
        label=_("How was it resolved?"), widget=forms.Textarea(attrs={"rows": 2}), max_length=2000
    )


class StartScreeningForm(forms.Form):
    instrument = forms.ChoiceField(label=_("Screening tool"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["instrument"].choices = [
            (i.id, i.title_in(get_language() or "en")) for i in instruments().values()
        ]

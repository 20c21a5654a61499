from __future__ import annotations

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from patients.models import Patient


class PatientForm(forms.ModelForm):
    class Meta:
        model = Patient
        fields = [
            "given_name",
            "family_name",
            "birth_date",
            "sex",
            "gender_identity",
            "preferred_language",
            "interpreter_needed",
            "address_line",
            "city",
            "state",
            "zip_code",
            "phone",
            "email",
            "contact_method",
            "contact_times",
            "mrn",
            "mrn_system",
        ]
        widgets = {"birth_date": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")}

    def __init__(self, *args, organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.organization = organization
        # The date picker offers no future dates; the model's check gives the message.
        self.fields["birth_date"].widget.attrs["max"] = timezone.localdate().isoformat()

    def clean_zip_code(self) -> str:
        value = self.cleaned_data["zip_code"].strip()
        if value and not (value[:5].isdigit() and len(value) in (5, 10)):
            raise forms.ValidationError(_("Enter a 5-digit ZIP code, like 02118."))
        return value

    def clean_state(self) -> str:
        return self.cleaned_data["state"].strip().upper()

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("mrn_system") and not cleaned.get("mrn"):
            self.add_error("mrn", _("Enter the MRN, or leave its system empty."))
        mrn = cleaned.get("mrn")
        if mrn:
            # The unique constraint includes organization, which is not a form field, so
            # Django's own check skips it; checked here to give a message, not an error page.
            taken = Patient.objects.for_organization(self.organization).filter(
                mrn=mrn, mrn_system=cleaned.get("mrn_system", "")
            )
            if self.instance.pk:
                taken = taken.exclude(pk=self.instance.pk)
            if taken.exists():
                self.add_error("mrn", _("Another patient here already has this MRN."))
        return cleaned


class RegisterPatientForm(PatientForm):
    confirm_new_person = forms.BooleanField(
        label=_("I checked: this is a different person, register them anyway"),
        required=False,
    )


class PatientSearchForm(forms.Form):
    q = forms.CharField(
        label=_("Name, date of birth or MRN"),
        required=False,
        help_text=_("Date of birth as MM/DD/YYYY or YYYY-MM-DD."),
    )

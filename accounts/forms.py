from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import Role


class AddMemberForm(forms.Form):
    email = forms.EmailField(
        label=_("Email address"),
        help_text=_("They will get an email with a link to set their password."),
    )
    full_name = forms.CharField(label=_("Full name"), max_length=200)
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)

    def __init__(self, *args, organization=None, **kwargs) -> None:
        self.organization = organization
        super().__init__(*args, **kwargs)

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip().lower()
        if (
            self.organization is not None
            and self.organization.memberships.filter(user__email__iexact=email).exists()
        ):
            raise forms.ValidationError(_("This person is already a member."))
        return email


class ChangeRoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)


class SwitchOrganizationForm(forms.Form):
    organization = forms.IntegerField(widget=forms.HiddenInput)

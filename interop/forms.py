from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django import forms
from django.utils.translation import gettext_lazy as _

from interop.models import ApiClient, EhrConnection

KEEP_HINT = _("Leave blank to keep the one saved.")


class EhrConnectionForm(forms.ModelForm):
    """The connection's settings. Secrets are write-only: never shown, kept unless retyped."""

    SECRET_FIELDS = {"bearer_token": "new_bearer_token", "private_key_pem": "new_private_key_pem"}

    base_url = forms.URLField(
        label=_("FHIR base URL"),
        assume_scheme="https",
        max_length=500,
        help_text=_("For example https://ehr.example.org/fhir/r4/"),
    )
    token_url = forms.URLField(
        label=_("Token URL"), assume_scheme="https", max_length=500, required=False
    )
    new_bearer_token = forms.CharField(
        label=_("Bearer token"),
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
    )
    new_private_key_pem = forms.CharField(
        label=_("Private key (PEM)"),
        required=False,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 4, "autocomplete": "off", "spellcheck": "false"}),
        help_text=_(
            "The key whose public half is registered with the EHR (RSA for RS384, P-384 for ES384)."
        ),
    )

    class Meta:
        model = EhrConnection
        fields = [
            "base_url",
            "auth_kind",
            "client_id",
            "token_url",
            "key_id",
            "algorithm",
            "scope",
            "mrn_system",
            "send_screenings",
            "send_referrals",
            "is_active",
        ]

    field_order = [
        "base_url",
        "auth_kind",
        "new_bearer_token",
        "client_id",
        "token_url",
        "new_private_key_pem",
        "key_id",
        "algorithm",
        "scope",
    ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.bearer_token:
            self.fields["new_bearer_token"].help_text = KEEP_HINT
        if self.instance.private_key_pem:
            self.fields["new_private_key_pem"].help_text = KEEP_HINT

    def clean_base_url(self) -> str:
        url = self.cleaned_data["base_url"]
        return url if url.endswith("/") else url + "/"

    def clean_new_private_key_pem(self) -> str:
        pem = self.cleaned_data["new_private_key_pem"]
        if not pem:
            return pem
        try:
            key = serialization.load_pem_private_key(pem.encode(), password=None)
        except (ValueError, TypeError):
            raise forms.ValidationError(
                _("This is not an unencrypted private key in PEM format.")
            ) from None
        algorithm = self.data.get(self.add_prefix("algorithm"), EhrConnection.Algorithm.RS384)
        if algorithm == EhrConnection.Algorithm.RS384 and not isinstance(key, rsa.RSAPrivateKey):
            raise forms.ValidationError(_("RS384 needs an RSA key."))
        if algorithm == EhrConnection.Algorithm.ES384 and not (
            isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp384r1"
        ):
            raise forms.ValidationError(_("ES384 needs an elliptic-curve key on P-384."))
        return pem

    def _post_clean(self) -> None:
        # Apply the secrets before the model's clean() checks that the chosen sign-in has them.
        if self.cleaned_data.get("new_bearer_token"):
            self.instance.bearer_token = self.cleaned_data["new_bearer_token"]
        if self.cleaned_data.get("new_private_key_pem"):
            self.instance.private_key_pem = self.cleaned_data["new_private_key_pem"]
        super()._post_clean()

    def _update_errors(self, errors) -> None:
        # The model names its secret fields; the form shows them under write-only inputs.
        if hasattr(errors, "error_dict"):
            errors.error_dict = {
                self.SECRET_FIELDS.get(name, name): value
                for name, value in errors.error_dict.items()
            }
        super()._update_errors(errors)


class ApiClientForm(forms.ModelForm):
    class Meta:
        model = ApiClient
        fields = ["name"]
        help_texts = {"name": _("Which system uses it, e.g. “Riverside EHR (production)”.")}

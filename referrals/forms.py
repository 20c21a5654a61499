from __future__ import annotations

from datetime import timedelta

from django import forms
from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _

from referrals.models import (
    REASONS_FOR,
    BusinessStatus,
    EmailPreference,
    Outcome,
    Priority,
    ReasonCode,
)

# The longest a recorded consent may last; the form offers it as the end date. Asking again
# after a year keeps the person's choice current (and ends sharing nobody remembers agreeing to).
CONSENT_LONGEST = timedelta(days=365)


# Date pickers take and give ISO values whatever the interface language: a localized value
# (Spanish "04/12/2026") left the box empty.
ISO_DATE = "%Y-%m-%d"
ISO_DATETIME_LOCAL = "%Y-%m-%dT%H:%M"


class ReferralForm(forms.Form):
    """The warm handoff: why, how to reach the person, urgency, and a note."""

    need_category = forms.ChoiceField(label=_("Need this referral addresses"))
    priority = forms.ChoiceField(
        label=_("Urgency"), choices=Priority.choices, initial=Priority.ROUTINE
    )
    note = forms.CharField(
        label=_("Note for the receiving organization"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("What would help them help this person? Plain language, no abbreviations."),
    )
    contact_method = forms.ChoiceField(label=_("How to reach the person"))
    contact_times = forms.CharField(
        label=_("Best times to reach them"), required=False, max_length=200
    )
    language = forms.ChoiceField(label=_("Language to use"))
    interpreter_needed = forms.BooleanField(label=_("Needs an interpreter"), required=False)
    do_not_contact = forms.BooleanField(
        label=_("Do not contact the person directly (for example, for their safety)"),
        required=False,
    )

    def __init__(
        self,
        *args,
        need_choices,
        contact_choices,
        language_choices,
        service_not_accepting: bool = False,
        sending: bool = False,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.fields["need_category"].choices = need_choices
        self.fields["contact_method"].choices = contact_choices
        self.fields["language"].choices = language_choices
        self.sending = sending
        if service_not_accepting:
            # Not a block (the service's word may be stale), but a referral it says it cannot
            # take is sent only by someone who asked. A draft needs no tick: nothing is sent.
            self.fields["checked_with_service"] = forms.BooleanField(
                label=_("I have checked with the service that they can take this person"),
                required=False,
            )

    def clean(self):
        data = super().clean()
        if (
            self.sending
            and "checked_with_service" in self.fields
            and not data.get("checked_with_service")
        ):
            self.add_error(
                "checked_with_service",
                _("Call the service first and tick this box, or choose another service."),
            )
        return data


class ConsentForm(forms.Form):
    """The person's consent to share with the receiving organization."""

    method = forms.ChoiceField(label=_("How the person gave consent"))
    signature = forms.CharField(
        label=_("Name typed by the person (electronic signature)"),
        required=False,
        max_length=200,
    )
    share_contact = forms.BooleanField(label=_("Contact details"), required=False, initial=True)
    share_needs = forms.BooleanField(label=_("The needs found"), required=False, initial=True)
    share_screening = forms.BooleanField(
        label=_("Screening answers about this need"),
        required=False,
        help_text=_(
            "Only the answers to the questions about the need this referral is for. Answers "
            "about safety at home are never shared."
        ),
    )
    expires_on = forms.DateField(
        label=_("Consent ends on"),
        widget=forms.DateInput(attrs={"type": "date"}, format=ISO_DATE),
        help_text=_("At most one year from today."),
    )
    confirmed = forms.BooleanField(
        label=_(
            "I told the person what will be shared, with whom, and that once it reaches an "
            "organization outside HIPAA it is no longer HIPAA-protected, and they agreed."
        ),
    )

    def __init__(self, *args, method_choices, electronic_value, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["method"].choices = method_choices
        self.electronic_value = electronic_value
        today = timezone.localdate()
        self.fields["expires_on"].widget.attrs.update(
            min=(today + timedelta(days=1)).isoformat(), max=(today + CONSENT_LONGEST).isoformat()
        )

    def clean_expires_on(self):
        value = self.cleaned_data["expires_on"]
        today = timezone.localdate()
        if value <= today:
            raise forms.ValidationError(_("Choose a date after today."))
        latest = today + CONSENT_LONGEST
        if value > latest:
            raise forms.ValidationError(
                _("Consent can last at most one year: choose %(latest)s or earlier.")
                % {"latest": formats.date_format(latest)}
            )
        return value

    def clean(self):
        data = super().clean()
        if (
            data.get("method") == self.electronic_value
            and not (data.get("signature") or "").strip()
        ):
            self.add_error(
                "signature", _("For electronic consent the person types their name here.")
            )
        return data


class ReasonForm(forms.Form):
    """Why a referral is declined, cancelled, put on hold or could not be completed.

    Each transition has its own reasons; its name also keeps the field ids apart, as every
    panel is on the same page.
    """

    reason = forms.ChoiceField(
        label=_("Reason"),
        error_messages={
            "required": _("Choose a reason."),
            "invalid_choice": _("Choose one of the reasons listed."),
        },
    )
    reason_text = forms.CharField(
        label=_("More detail"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Needed when the reason is “Other”."),
    )

    def __init__(self, *args, transition: str, **kwargs):
        kwargs.setdefault("auto_id", f"%s-{transition}")
        super().__init__(*args, **kwargs)
        # An empty first choice: nobody declines for a reason they did not pick.
        self.fields["reason"].choices = [
            ("", _("Choose a reason")),
            *((code.value, code.label) for code in REASONS_FOR[transition]),
        ]

    def clean(self):
        data = super().clean()
        if data.get("reason") == ReasonCode.OTHER and not data.get("reason_text", "").strip():
            self.add_error("reason_text", _("Say what the reason is."))
        return data


class OutcomeForm(forms.Form):
    outcome = forms.ChoiceField(
        label=_("Was the need met?"), choices=Outcome.choices, widget=forms.RadioSelect
    )
    outcome_provided = forms.CharField(
        label=_("What was provided"), widget=forms.Textarea(attrs={"rows": 3})
    )
    outcome_date = forms.DateField(
        label=_("Date of service"), widget=forms.DateInput(attrs={"type": "date"}, format=ISO_DATE)
    )

    def clean_outcome_date(self):
        value = self.cleaned_data["outcome_date"]
        if value > timezone.localdate():
            raise forms.ValidationError(_("The date of service cannot be in the future."))
        return value


# An intake appointment is booked ahead; one that took place earlier today may still be
# recorded, but not one years ago (a mistyped year) nor one years ahead.
INTAKE_PAST = timedelta(days=1)
INTAKE_AHEAD = timedelta(days=366)


class StepForm(forms.Form):
    step = forms.ChoiceField(
        label=_("Current step"),
        choices=[c for c in BusinessStatus.choices if c[0]],
        error_messages={"invalid_choice": _("Choose a step from the list.")},
    )
    intake_at = forms.DateTimeField(
        label=_("Intake appointment (date and time)"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=ISO_DATETIME_LOCAL),
    )

    def clean(self):
        data = super().clean()
        intake_at = data.get("intake_at")
        if data.get("step") != BusinessStatus.INTAKE_BOOKED:
            data["intake_at"] = None  # only a booked intake has a date
        elif intake_at is None:
            if "intake_at" not in self.errors:
                self.add_error("intake_at", _("Give the date and time of the intake appointment."))
        elif intake_at < timezone.now() - INTAKE_PAST:
            self.add_error("intake_at", _("This date is in the past. Check the date and time."))
        elif intake_at > timezone.now() + INTAKE_AHEAD:
            self.add_error(
                "intake_at", _("This date is more than a year ahead. Check the date and time.")
            )
        return data


class MessageForm(forms.Form):
    body = forms.CharField(
        label=_("Message"),
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=4000,
        error_messages={"required": _("Write a message first.")},
    )


class EmailPreferenceForm(forms.ModelForm):
    class Meta:
        model = EmailPreference
        fields = ["new_referrals", "status_changes", "messages", "overdue"]

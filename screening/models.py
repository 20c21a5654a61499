from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from screening import instrument as instruments
from screening.instrument import (
    ANSWERED,
    DECLINED,
    NOT_ASKED,
    Instrument,
    Outcome,
    Question,
    Response,
)

if TYPE_CHECKING:
    from accounts.models import User
    from directory.models import Organization


def need_category_choices() -> list[tuple[str, str]]:
    from directory.taxonomy import NEED_NAMES

    return [(code, NEED_NAMES.get(code, code)) for code in instruments.SDOH_CATEGORIES]


def need_name(category: str) -> str:
    return str(dict(need_category_choices()).get(category, category))


class ScreeningQuerySet(models.QuerySet["Screening"]):
    def for_organization(self, organization: Organization | int) -> ScreeningQuerySet:
        return self.filter(patient__organization=organization)

    def completed(self) -> ScreeningQuerySet:
        return self.filter(status=Screening.Status.COMPLETED)


class Screening(models.Model):
    """One administration of an instrument to a patient; answers save as they are given."""

    class Status(models.TextChoices):
        IN_PROGRESS = "in-progress", _("In progress")
        COMPLETED = "completed", _("Completed")

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.CASCADE, related_name="screenings"
    )
    instrument_id = models.CharField(_("instrument"), max_length=64)
    # Kept so a later edit of the instrument file cannot silently reinterpret old answers.
    instrument_version = models.CharField(_("instrument version"), max_length=32)
    language = models.CharField(_("language of the questions"), max_length=8, default="en")
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.IN_PROGRESS
    )
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    started_at = models.DateTimeField(_("started"), default=timezone.now)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    completed_at = models.DateTimeField(_("completed"), null=True, blank=True)

    objects = ScreeningQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at", "-pk"]
        verbose_name = _("screening")
        verbose_name_plural = _("screenings")
        constraints = [
            models.CheckConstraint(
                condition=Q(status="in-progress", completed_at__isnull=True)
                | Q(status="completed", completed_at__isnull=False),
                name="screening_completed_has_time",
            ),
        ]
        indexes = [
            # The patient page and the rescreen diff: WHERE patient_id = ? ORDER BY started_at DESC
            models.Index(fields=["patient", "-started_at"], name="screening_patient_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.instrument_id} — {self.patient}"

    def get_absolute_url(self) -> str:
        if self.is_completed:
            return reverse("screening:results", args=[self.pk])
        return reverse("screening:screen", args=[self.pk])

    @classmethod
    def start(cls, patient, instrument: Instrument, *, by: User, language: str = "") -> Screening:
        return cls.objects.create(
            patient=patient,
            instrument_id=instrument.id,
            instrument_version=instrument.version,
            language=instrument.language_for(language or patient.preferred_language),
            started_by=by,
        )

    @property
    def instrument(self) -> Instrument:
        return instruments.get_instrument(self.instrument_id)

    @property
    def is_completed(self) -> bool:
        return self.status == self.Status.COMPLETED

    @property
    def title(self) -> str:
        """The instrument's name in the language of the page."""
        return self.instrument.title_in(get_language() or "en")

    @property
    def questions_title(self) -> str:
        """The instrument's name in the language of its questions, to head them."""
        return self.instrument.title_in(self.language)

    def responses(self) -> dict[str, Response]:
        return {a.question: a.response for a in self.answers.all()}

    def outcomes(self) -> list[Outcome]:
        return instruments.score(self.instrument, self.responses())

    def unaccounted_questions(self) -> list[Question]:
        """Questions neither answered nor marked declined or not asked."""
        responses = self.responses()
        return [
            q
            for q in self.instrument.questions
            if q.code not in responses
            or (responses[q.code].status == ANSWERED and not responses[q.code].codes)
        ]

    def record(self, question_code: str, tokens: Iterable[str]) -> Answer | None:
        """Save one question's answer from form tokens (answer codes, "declined", "not-asked").

        No tokens clears the question. Raises ValidationError for answers the question does
        not allow; answers of a completed screening are final.
        """
        if self.is_completed:
            raise ValidationError(_("This screening is completed; its answers cannot change."))
        question = self.instrument.question(question_code)
        if question is None:
            raise ValidationError(_("This screening has no such question."))
        response = response_from_tokens(question, list(tokens))
        if response is None:
            self.answers.filter(question=question_code).delete()
            return None
        answer, _created = Answer.objects.update_or_create(
            screening=self,
            question=question_code,
            defaults={"status": response.status, "codes": list(response.codes)},
        )
        return answer

    def complete(self, *, by: User) -> list[Need]:
        """Score the answers and record a Need for each positive domain; returns the needs.

        Completing twice (a double-click, two tabs) records the needs once: the row lock makes
        the second call wait and then find the screening completed.
        """
        with transaction.atomic():
            screening = Screening.objects.select_for_update().get(pk=self.pk)
            if screening.is_completed:
                self.refresh_from_db()
                return list(self.needs.all())
            missing = screening.unaccounted_questions()
            if missing:
                raise ValidationError(
                    _("Answer every question or mark it declined or not asked (%(count)s left).")
                    % {"count": len(missing)}
                )
            now = timezone.now()
            # Lock the patient so two screenings completing at once cannot both add the same
            # active need (the partial unique constraint would turn that into an error).
            type(self.patient).objects.select_for_update().get(pk=self.patient_id)
            active = set(
                Need.objects.filter(patient_id=self.patient_id)
                .active()
                .values_list("category", flat=True)
            )
            found = []
            for category in dict.fromkeys(
                o.rule.category for o in screening.outcomes() if o.positive
            ):
                if category in active:
                    continue
                found.append(
                    Need.objects.create(
                        patient_id=self.patient_id,
                        category=category,
                        screening=screening,
                        found_at=now,
                        added_by=by,
                    )
                )
            screening.status = self.Status.COMPLETED
            screening.completed_at = now
            screening.completed_by = by
            screening.save(update_fields=["status", "completed_at", "completed_by"])
            # The EHR copy, if the organization sends screenings to one, is queued in this
            # transaction: a crash after commit cannot lose it (interop's outbox).
            from interop.outbox import enqueue_screening

            enqueue_screening(screening)
        self.refresh_from_db()
        return found

    def previous(self) -> Screening | None:
        """The patient's last completed screening with the same instrument before this one."""
        return (
            Screening.objects.completed()
            .filter(patient_id=self.patient_id, instrument_id=self.instrument_id)
            .filter(Q(completed_at__lt=self.completed_at) if self.completed_at else Q())
            .exclude(pk=self.pk)
            .order_by("-completed_at", "-pk")
            .first()
        )

    def changes_since(self, earlier: Screening) -> Changes:
        now = {o.rule.category: o.status for o in self.outcomes()}
        before = {o.rule.category: o.status for o in earlier.outcomes()}
        positive_now = {c for c, s in now.items() if s == instruments.POSITIVE}
        positive_before = {c for c, s in before.items() if s == instruments.POSITIVE}
        gone = positive_before - positive_now
        return Changes(
            earlier=earlier,
            new=sorted(positive_now - positive_before),
            continuing=sorted(positive_now & positive_before),
            no_longer=sorted(c for c in gone if now.get(c) == instruments.NEGATIVE),
            unknown=sorted(c for c in gone if now.get(c) != instruments.NEGATIVE),
        )


@dataclass
class Changes:
    """What changed between two screenings, by SDOH category."""

    earlier: Screening
    new: list[str]
    continuing: list[str]
    no_longer: list[str]  # was positive, now answered negative
    unknown: list[str]  # was positive, now not answered enough to tell

    def __bool__(self) -> bool:
        return bool(self.new or self.no_longer or self.unknown)


def response_from_tokens(question: Question, tokens: list[str]) -> Response | None:
    """Check a question's form values; None when nothing was chosen."""
    tokens = [t for t in dict.fromkeys(tokens) if t]
    if not tokens:
        return None
    skips = [t for t in tokens if t in (DECLINED, NOT_ASKED)]
    if skips:
        if len(tokens) > 1:
            raise ValidationError(
                _("Choose answers, or mark the question declined or not asked — not both.")
            )
        return Response(skips[0])
    for code in tokens:
        if question.answer(code) is None:
            raise ValidationError(_("That is not an answer to this question."))
    if not question.multiple and len(tokens) > 1:
        raise ValidationError(_("Choose one answer."))
    exclusive = [code for code in tokens if question.answer(code).exclusive]
    if exclusive and len(tokens) > 1:
        raise ValidationError(
            _("“%(answer)s” cannot be chosen with other answers.")
            % {"answer": question.answer(exclusive[0]).text_in(get_language() or "en")}
        )
    return Response(ANSWERED, tuple(tokens))


class Answer(models.Model):
    """How one question of a screening was handled."""

    class Status(models.TextChoices):
        ANSWERED = ANSWERED, _("Answered")
        DECLINED = DECLINED, _("Declined to answer")
        NOT_ASKED = NOT_ASKED, _("Not asked")

    screening = models.ForeignKey(Screening, on_delete=models.CASCADE, related_name="answers")
    question = models.CharField(_("question (LOINC)"), max_length=32)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices)
    # LOINC answer codes; several for a choose-all-that-apply question.
    codes = models.JSONField(_("answer codes"), default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["pk"]
        verbose_name = _("answer")
        verbose_name_plural = _("answers")
        constraints = [
            models.UniqueConstraint(
                fields=["screening", "question"], name="answer_one_per_question"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.question}: {', '.join(self.codes) or self.get_status_display()}"

    @property
    def response(self) -> Response:
        return Response(self.status, tuple(self.codes))


class NeedQuerySet(models.QuerySet["Need"]):
    def for_organization(self, organization: Organization | int) -> NeedQuerySet:
        return self.filter(patient__organization=organization)

    def active(self) -> NeedQuerySet:
        return self.filter(status=Need.Status.ACTIVE)

    def resolved(self) -> NeedQuerySet:
        return self.filter(status=Need.Status.RESOLVED)


class Need(models.Model):
    """A health-related social need of a patient, found by a screening or in conversation."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        RESOLVED = "resolved", _("Resolved")

    patient = models.ForeignKey("patients.Patient", on_delete=models.CASCADE, related_name="needs")
    category = models.CharField(
        _("need (SDOH category)"), max_length=64, choices=need_category_choices
    )
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.ACTIVE
    )
    screening = models.ForeignKey(
        Screening,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="needs",
        verbose_name=_("found by screening"),
    )
    found_at = models.DateTimeField(_("found"), default=timezone.now)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    note = models.TextField(_("note"), blank=True)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    resolution_note = models.TextField(_("how it was resolved"), blank=True)

    objects = NeedQuerySet.as_manager()

    class Meta:
        ordering = ["status", "-found_at", "-pk"]
        verbose_name = _("need")
        verbose_name_plural = _("needs")
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "category"],
                condition=Q(status="active"),
                name="need_one_active_per_category",
            ),
            models.CheckConstraint(
                condition=Q(status="active", resolved_at__isnull=True)
                | Q(status="resolved", resolved_at__isnull=False),
                name="need_resolved_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} — {self.patient}"

    @property
    def name(self) -> str:
        return need_name(self.category)

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE

    @classmethod
    def add(cls, patient, category: str, *, by: User, note: str = "") -> Need:
        """Record a need found in conversation; ValidationError if it is already active."""
        with transaction.atomic():
            # Serialise with screening completion, which adds needs for the same patient.
            type(patient).objects.select_for_update().get(pk=patient.pk)
            if cls.objects.filter(patient=patient, category=category).active().exists():
                raise ValidationError(_("This need is already active for this person."))
            return cls.objects.create(patient=patient, category=category, added_by=by, note=note)

    def resolve(self, *, by: User, note: str) -> None:
        with transaction.atomic():
            # Two people resolving at once: the second sees it already resolved.
            need = Need.objects.select_for_update().get(pk=self.pk)
            if not need.is_active:
                raise ValidationError(_("This need is already resolved."))
            need.status = self.Status.RESOLVED
            need.resolved_at = timezone.now()
            need.resolved_by = by
            need.resolution_note = note
            need.save(update_fields=["status", "resolved_at", "resolved_by", "resolution_note"])
        self.refresh_from_db()

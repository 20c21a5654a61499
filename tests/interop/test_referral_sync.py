"""Referral sync against a real FHIR server: ServiceRequest, Task, Procedure and Consent,
once each, in order, never an older state over a newer one."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from fhir.resources.R4B import get_fhir_model_class

from interop import referral_fhir
from interop.models import EhrConnection, InboundReferral, OutboxMessage, RemoteResource
from interop.outbox import enqueue, enqueue_referral, retry, sync_state_for
from interop.tasks import send_outbox
from referrals.models import ReferralEvent
from screening import fhir as screening_fhir
from tests.factories import directory_service, referral
from tests.interop.conftest import MRN_SYSTEM, completed_screening

pytestmark = pytest.mark.django_db
State = OutboxMessage.State


@pytest.fixture
def service(food_bank):
    return directory_service(
        organization=food_bank, name="Eastside Pantry", terms=("food.food-pantry",)
    )


def send() -> dict:
    return send_outbox.call()


def later(minutes: int = 90):
    return time_machine.travel(timezone.now() + datetime.timedelta(minutes=minutes), tick=True)


def assert_valid_r4(resource: dict) -> None:
    get_fhir_model_class(resource["resourceType"]).model_validate(resource)


def queued(referral_pk: int) -> list[str]:
    return [
        m.resource_type
        for m in OutboxMessage.objects.filter(aggregate=f"referral:{referral_pk}").order_by(
            "sequence"
        )
    ]


def walk(made, staff, food_bank, *names, **extra) -> None:
    for name in names:
        made.apply(name, by=staff, organization=food_bank, **(extra if name == "complete" else {}))


COMPLETE = {"outcome": "met", "outcome_provided": "Two weeks of groceries", "outcome_date": None}


def one(fhir, resource_type: str, value: str) -> dict:
    found = fhir.search(resource_type, identifier=f"urn:handoff:{resource_type.lower()}|{value}")
    assert len(found) == 1, found
    return found[0]


# --- what gets queued ----------------------------------------------------------------------


def test_sending_queues_consent_service_request_and_task_in_its_transaction(
    connection, patient, referrer, service
):
    made = referral(patient, service, referrer)
    assert queued(made.pk) == ["Consent", "ServiceRequest", "Task"]
    messages = OutboxMessage.objects.filter(aggregate=f"referral:{made.pk}")
    assert {m.source_version for m in messages} == {made.version}
    task = messages.get(resource_type="Task").payload
    assert task["status"] == "requested"
    assert task["intent"] == "order"
    assert task["code"]["coding"][0]["code"] == "fulfill"
    assert task["focus"] == {"reference": f"ServiceRequest/{made.identifier}"}
    assert task["for"] == {"reference": f"Patient/{patient.pk}"}
    assert task["owner"]["identifier"] == {
        "system": referral_fhir.HSDS_ORGANIZATION,
        "value": str(service.organization.hsds_id),
    }
    assert task["identifier"] == [{"system": "urn:handoff:task", "value": str(made.identifier)}]
    request = messages.get(resource_type="ServiceRequest").payload
    assert request["status"] == "active" and request["intent"] == "order"
    assert request["supportingInfo"] == [{"reference": f"Consent/consent-{made.consent_id}"}]
    assert {c["coding"][0]["code"] for c in request["category"]} >= {"food-insecurity"}


def test_a_failed_transition_queues_nothing(
    connection, patient, referrer, service, staff, food_bank
):
    from referrals.transitions import TransitionError

    made = referral(patient, service, referrer)
    before = OutboxMessage.objects.count()
    with pytest.raises(TransitionError):
        made.apply("complete", by=staff, organization=food_bank)  # not started
    assert OutboxMessage.objects.count() == before


def test_every_later_change_queues_the_task_and_completion_the_procedure_first(
    connection, patient, referrer, service, staff, food_bank
):
    made = referral(patient, service, referrer)
    walk(made, staff, food_bank, "receive", "accept")
    made.set_step(by=staff, organization=food_bank, step="trying-to-reach")
    walk(made, staff, food_bank, "start", "complete", **COMPLETE)
    assert queued(made.pk) == [
        "Consent", "ServiceRequest", "Task",  # send
        "Task", "Task", "Task", "Task",  # receive, accept, step, start
        "Procedure", "Task", "ServiceRequest",  # complete
    ]  # fmt: skip
    versions = list(
        OutboxMessage.objects.filter(aggregate=f"referral:{made.pk}", resource_type="Task")
        .order_by("sequence")
        .values_list("source_version", flat=True)
    )
    assert versions == sorted(versions) and len(set(versions)) == len(versions)
    last = OutboxMessage.objects.filter(aggregate=f"referral:{made.pk}").order_by("sequence")
    procedure, task, request = (m.payload for m in list(last)[-3:])
    assert task["status"] == "completed"
    assert task["output"][0]["valueReference"] == {"reference": f"Procedure/{made.identifier}"}
    assert task["businessStatus"]["coding"][0]["code"] == "trying-to-reach"
    assert request["status"] == "completed"
    assert procedure["status"] == "completed"
    assert procedure["performedDateTime"] == timezone.localdate().isoformat()
    assert procedure["note"] == [{"text": "Two weeks of groceries"}]
    assert procedure["outcome"]["coding"][0]["code"] == "met"
    # Superseded: only the newest Task and ServiceRequest are still to be sent.
    assert OutboxMessage.objects.filter(resource_type="Task", state=State.PENDING).count() == 1


def test_a_decline_carries_its_coded_reason_and_revokes_the_request(
    connection, patient, referrer, service, staff, food_bank
):
    made = referral(patient, service, referrer)
    made.apply("reject", by=staff, organization=food_bank, reason="no-capacity", reason_text="Full")
    task = OutboxMessage.objects.filter(resource_type="Task").last().payload
    assert task["status"] == "rejected"
    assert task["statusReason"] == {
        "coding": [
            {
                "system": referral_fhir.STATUS_REASON_SYSTEM,
                "code": "no-capacity",
                "display": "No capacity right now",
            }
        ],
        "text": "Full",
    }
    assert task["executionPeriod"]["end"]
    request = OutboxMessage.objects.filter(resource_type="ServiceRequest").last().payload
    assert request["status"] == "revoked"


def test_drafts_messages_and_views_queue_nothing(
    connection, patient, referrer, service, staff, food_bank
):
    draft = referral(patient, service, referrer, send=False)
    draft.apply("cancel", by=referrer, organization=patient.organization, reason="sent-in-error")
    assert not OutboxMessage.objects.exists()
    made = referral(patient, service, referrer)
    count = OutboxMessage.objects.count()
    made.post_message(by=staff, organization=food_bank, body="Hello")
    assert OutboxMessage.objects.count() == count


def test_nothing_is_queued_without_a_connection_that_takes_referrals(
    connection, patient, referrer, service, fhir, other_org
):
    connection.send_referrals = False
    connection.save()
    referral(patient, service, referrer)
    EhrConnection.objects.filter(pk=connection.pk).update(send_referrals=True, is_active=False)
    referral(patient, service, referrer)
    EhrConnection.objects.filter(pk=connection.pk).delete()
    EhrConnection.objects.create(organization=other_org, base_url=fhir.base_url)
    referral(patient, service, referrer)
    assert not OutboxMessage.objects.exists()


def test_a_referral_sent_before_the_connection_existed_is_sent_whole_on_its_next_change(
    clinic, fhir, patient, referrer, service, staff, food_bank
):
    made = referral(patient, service, referrer)
    EhrConnection.objects.create(organization=clinic, base_url=fhir.base_url)
    made.apply("receive", by=staff, organization=food_bank)
    assert queued(made.pk) == ["Consent", "ServiceRequest", "Task"]


def test_referrals_the_ehr_sent_in_are_not_pushed_back_to_it(
    connection, patient, referrer, service, staff, food_bank
):
    from interop.models import ApiClient

    made = referral(patient, service, referrer, send=False)
    client, _secret = ApiClient.issue(patient.organization, "EHR")
    InboundReferral.objects.create(referral=made, client=client, organization=patient.organization)
    made.apply("send", by=referrer, organization=patient.organization)
    made.apply("receive", by=staff, organization=food_bank)
    assert not OutboxMessage.objects.filter(aggregate=f"referral:{made.pk}").exists()


def test_every_payload_queued_for_a_referral_validates_as_r4(
    connection, patient, referrer, service, staff, food_bank
):
    completed_screening(patient, referrer)
    made = referral(patient, service, referrer)
    made.needs.set(patient.needs.all())
    made.apply("reject", by=staff, organization=food_bank, reason="other")
    other = referral(
        patient, service, referrer, do_not_contact=True, note="Call the referrer first"
    )
    walk(other, staff, food_bank, "accept", "start")
    other.apply("hold", by=staff, organization=food_bank, reason="waiting")
    walk(other, staff, food_bank, "resume", "complete", **COMPLETE)
    consent = other.consent
    consent.withdraw(by=referrer, organization=patient.organization)
    payloads = [m.payload for m in OutboxMessage.objects.all()]
    assert {p["resourceType"] for p in payloads} >= {
        "ServiceRequest",
        "Task",
        "Procedure",
        "Consent",
    }
    for payload in payloads:
        assert_valid_r4(payload)


# --- consent -----------------------------------------------------------------------------


def test_recording_and_withdrawing_consent_in_the_portal_queues_the_consent(
    client, connection, patient, referrer, service
):
    client.force_login(referrer)
    client.post(
        reverse("referrals:new"),
        {
            "service": service.pk,
            "patient": patient.pk,
            "need_category": "food-insecurity",
            "priority": "routine",
            "contact_method": "phone",
            "language": "en",
            "method": "written",
            "share_contact": "on",
            "share_needs": "on",
            "expires_on": (timezone.localdate() + datetime.timedelta(days=365)).isoformat(),
            "confirmed": "on",
            "save": "1",
        },
    )
    [message] = OutboxMessage.objects.all()
    consent = patient.consents.get()
    assert message.aggregate == f"consent:{consent.pk}"
    payload = message.payload
    assert payload["status"] == "active"
    assert payload["scope"]["coding"][0]["code"] == "patient-privacy"
    assert payload["category"][0]["coding"][0]["code"] == "IDSCL"
    assert payload["provision"]["actor"][0]["reference"]["identifier"]["value"] == str(
        service.organization.hsds_id
    )
    assert {c["code"] for c in payload["provision"]["class"]} == {"Patient", "Condition"}
    assert "provision" not in payload["provision"]  # no screening answers shared, none to deny

    client.post(reverse("referrals:withdraw_consent", args=[consent.pk]))
    latest = OutboxMessage.objects.filter(aggregate=f"consent:{consent.pk}").last()
    assert latest.payload["status"] == "inactive"
    assert [m.state for m in OutboxMessage.objects.order_by("pk")] == [
        State.SUPERSEDED,
        State.PENDING,
    ]


# --- against the FHIR server ------------------------------------------------------------


def _post_referral(client, patient, service) -> None:
    response = client.post(
        reverse("referrals:new"),
        {
            "service": service.pk,
            "patient": patient.pk,
            "need_category": "food-insecurity",
            "priority": "urgent",
            "contact_method": "phone",
            "language": "en",
            "note": "Family of four.",
            "method": "verbal",
            "share_contact": "on",
            "share_needs": "on",
            "share_screening": "on",
            "expires_on": (timezone.localdate() + datetime.timedelta(days=365)).isoformat(),
            "confirmed": "on",
            "send": "1",
        },
    )
    assert response.status_code == 302, response.content


def test_the_whole_loop_leaves_the_ehr_holding_everything_once(
    client, connection, patient, referrer, service, staff, fhir
):
    """Screened, referred with consent, worked and completed through the pages; the EHR ends
    with the screening, the request, the completed Task pointing at the outcome, and the
    consent, each exactly once."""
    screening = completed_screening(patient, referrer)
    client.force_login(referrer)
    _post_referral(client, patient, service)
    made = patient.referrals.get()
    send()  # the EHR is told early, as it would be

    client.force_login(staff)
    client.get(reverse("referrals:detail", args=[made.pk]))  # opening it marks it seen
    for action in ("accept", "start"):
        client.post(reverse("referrals:act", args=[made.pk, action]))
    client.post(reverse("referrals:step", args=[made.pk]), {"step": "receiving-services"})
    client.post(
        reverse("referrals:act", args=[made.pk, "complete"]),
        {
            "outcome": "met",
            "outcome_provided": "Enrolled in weekly pantry pick-up",
            "outcome_date": timezone.localdate().isoformat(),
        },
    )
    made.refresh_from_db()
    assert made.status == "completed"
    send()
    assert not OutboxMessage.objects.exclude(state__in=[State.SENT, State.SUPERSEDED]).exists()

    [ehr_patient] = fhir.search("Patient")
    assert ehr_patient["identifier"] == [{"system": MRN_SYSTEM, "value": "MRN-1001"}]
    subject = {"reference": f"Patient/{ehr_patient['id']}"}
    expected = screening_fhir.screening_resources(screening)
    assert len(fhir.search("QuestionnaireResponse")) == 1
    assert len(fhir.search("Observation")) == sum(
        r.resource_type == "Observation" for r in expected
    )
    conditions = fhir.search("Condition")
    assert len(conditions) == screening.needs.count() == 2

    [request] = fhir.search("ServiceRequest")
    [task] = fhir.search("Task")
    [procedure] = fhir.search("Procedure")
    [consent] = fhir.search("Consent")
    assert request["status"] == "completed"
    assert request["subject"] == subject
    assert request["priority"] == "urgent"
    assert request["supportingInfo"] == [{"reference": f"Consent/{consent['id']}"}]
    food = screening.needs.get(category="food-insecurity")
    food_condition = one(fhir, "Condition", f"need-{food.pk}")
    assert request["reasonReference"] == [{"reference": f"Condition/{food_condition['id']}"}]
    assert task["status"] == "completed"
    assert task["for"] == subject
    assert task["focus"] == {"reference": f"ServiceRequest/{request['id']}"}
    assert task["businessStatus"]["coding"][0]["code"] == "receiving-services"
    assert task["output"][0]["valueReference"] == {"reference": f"Procedure/{procedure['id']}"}
    assert task["meta"]["tag"] == [{"system": referral_fhir.VERSION_TAG, "code": str(made.version)}]
    assert procedure["basedOn"] == [{"reference": f"ServiceRequest/{request['id']}"}]
    assert procedure["note"] == [{"text": "Enrolled in weekly pantry pick-up"}]
    assert consent["status"] == "active"
    assert consent["patient"] == subject
    for resource in [ehr_patient, request, task, procedure, consent, *conditions]:
        assert_valid_r4(resource)
    # The referral page tells the referrer.
    client.force_login(referrer)
    page = client.get(reverse("referrals:detail", args=[made.pk])).content.decode()
    assert "Sent to EHR now" in page


def test_server_down_during_changes_then_back_everything_arrives_once_in_order(
    connection, patient, referrer, service, staff, food_bank, fhir
):
    made = referral(patient, service, referrer)
    send()
    fhir.stop()
    walk(made, staff, food_bank, "receive", "accept")
    made.set_step(by=staff, organization=food_bank, step="intake-booked", intake_at=timezone.now())
    walk(made, staff, food_bank, "start")
    result = send()
    assert result["sent"] == 0 and result["retrying"] == 1
    state = sync_state_for(f"referral:{made.pk}")
    assert state.kind == "waiting" and "unreachable" in state.text
    walk(made, staff, food_bank, "complete", **COMPLETE)

    fhir.start()
    with later():
        send()
    assert not OutboxMessage.objects.exclude(state__in=[State.SENT, State.SUPERSEDED]).exists()
    made.refresh_from_db()
    task = one(fhir, "Task", str(made.identifier))
    assert task["status"] == "completed"
    assert task["meta"]["tag"][0]["code"] == str(made.version)  # the newest
    history = fhir.history("Task", task["id"])
    versions = [int(h["meta"]["tag"][0]["code"]) for h in reversed(history)]
    assert versions == sorted(versions)  # never went backwards
    assert len(fhir.search("ServiceRequest")) == 1
    assert len(fhir.search("Procedure")) == 1
    assert len(fhir.search("Consent")) == 1
    assert len(fhir.search("Patient")) == 1
    procedure = fhir.search("Procedure")[0]
    assert task["output"][0]["valueReference"] == {"reference": f"Procedure/{procedure['id']}"}
    # In order: the Procedure was stored before the Task that points at it.
    assert procedure["meta"]["lastUpdated"] <= task["meta"]["lastUpdated"]


def test_an_older_task_never_overwrites_a_newer_one_on_the_ehr(
    connection, patient, referrer, service, staff, food_bank, fhir
):
    made = referral(patient, service, referrer)
    send()
    walk(made, staff, food_bank, "receive")
    stale = OutboxMessage.objects.filter(resource_type="Task").last()
    # Say the "received" copy was rejected, and the "accepted" one went on without it.
    OutboxMessage.objects.filter(pk=stale.pk).update(state=State.REJECTED)
    walk(made, staff, food_bank, "accept")
    send()
    assert one(fhir, "Task", str(made.identifier))["status"] == "accepted"
    # An admin's retry of the old copy — even had it been kept pending — does not undo that.
    OutboxMessage.objects.filter(pk=stale.pk).update(state=State.REJECTED)
    assert retry(stale)
    assert send()["superseded"] == 1
    task = one(fhir, "Task", str(made.identifier))
    assert task["status"] == "accepted"
    remote = RemoteResource.objects.get(resource_type="Task")
    assert remote.source_version == made.version


def test_a_copy_of_an_older_version_queued_later_is_never_sent(
    connection, patient, referrer, service, staff, food_bank, fhir
):
    made = referral(patient, service, referrer)
    walk(made, staff, food_bank, "receive", "accept")
    send()
    older = referral_fhir.task(made).as_json()
    older["status"] = "received"
    with transaction.atomic():
        enqueue(connection, f"referral:{made.pk}", [older], version=made.version - 1)
    assert send()["superseded"] == 1
    assert one(fhir, "Task", str(made.identifier))["status"] == "accepted"


def test_a_resource_the_ehr_rejects_shows_its_reason_on_the_referral_page(
    client, connection, patient, referrer, service, staff, food_bank, fhir
):
    made = referral(patient, service, referrer)
    send()
    walk(made, staff, food_bank, "receive")
    task = OutboxMessage.objects.filter(resource_type="Task", state=State.PENDING).get()
    OutboxMessage.objects.filter(pk=task.pk).update(payload={**task.payload, "colour": "blue"})
    assert send()["rejected"] == 1

    client.force_login(referrer)
    page = client.get(reverse("referrals:detail", args=[made.pk])).content.decode()
    assert 'data-testid="ehr-sync-state"' in page
    assert "Rejected by EHR: Invalid additional property" in page
    assert "colour" in page
    # The live fragment (htmx) says it too; the receiving side is not shown the referrer's EHR.
    fragment = client.get(
        reverse("referrals:detail", args=[made.pk]) + "?part=status", HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "Rejected by EHR" in fragment
    client.force_login(staff)
    assert (
        "ehr-sync-state"
        not in client.get(reverse("referrals:detail", args=[made.pk])).content.decode()
    )


def test_withdrawn_consent_reaches_the_ehr_as_inactive_and_the_referral_as_cancelled(
    connection, patient, referrer, service, fhir
):
    made = referral(patient, service, referrer)
    send()
    made.consent.withdraw(by=referrer, organization=patient.organization)
    with later(1):
        send()
    made.refresh_from_db()
    assert made.status == "cancelled"
    [consent] = fhir.search("Consent")
    assert consent["status"] == "inactive"
    assert one(fhir, "Task", str(made.identifier))["status"] == "cancelled"
    assert one(fhir, "Task", str(made.identifier))["statusReason"]["coding"][0]["code"] == (
        "consent-withdrawn"
    )
    assert one(fhir, "ServiceRequest", str(made.identifier))["status"] == "revoked"


def test_every_referral_event_kind_is_handled(connection, patient, referrer, service):
    made = referral(patient, service, referrer)
    for kind in ReferralEvent.Kind.values:
        event = ReferralEvent(referral=made, kind=kind, to_status=made.status)
        with transaction.atomic():
            enqueue_referral(made, event)


def test_a_consent_sharing_screening_answers_denies_the_safety_questions_in_fhir(
    patient, referrer, service
):
    from interop.referral_fhir import consent as consent_resource
    from patients.models import Consent

    consent = Consent.objects.create(
        patient=patient,
        organization=service.organization,
        method=Consent.Method.VERBAL,
        recorded_by=referrer,
        share_screening=True,
        given_at=timezone.now(),
        expires_on=timezone.localdate() + datetime.timedelta(days=30),
    )

    provision = consent_resource(consent).as_json()["provision"]

    assert {c["code"] for c in provision["class"]} >= {"QuestionnaireResponse", "Observation"}
    [deny] = provision["provision"]
    assert deny["type"] == "deny"
    # The four HITS questions of AHC HRSN (physically hurt, insult, threaten, scream or curse).
    assert {c["coding"][0]["code"] for c in deny["code"]} == {
        "95618-5",
        "95617-7",
        "95616-9",
        "95615-1",
    }
    assert all(c["coding"][0]["system"] == "http://loinc.org" for c in deny["code"])

"""Screening sync against a real FHIR server: once each, idempotent, ordered, nothing lost."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from fhir.resources.R4B import get_fhir_model_class

from interop.mapping import portal_system
from interop.models import OutboxMessage, RemoteResource
from interop.outbox import enqueue, enqueue_screening, retry, sync_state_for
from interop.tasks import send_outbox
from screening import fhir as screening_fhir
from tests.factories import PatientFactory
from tests.interop.conftest import MRN_SYSTEM, completed_screening

pytestmark = pytest.mark.django_db
State = OutboxMessage.State


def send() -> dict:
    return send_outbox.call()


def by_identifier(resources: list[dict], value: str) -> dict:
    def values(resource):
        identifier = resource.get("identifier")
        items = identifier if isinstance(identifier, list) else [identifier]
        return {i["value"] for i in items if i}

    return next(r for r in resources if value in values(r))


def later(minutes: int = 90):
    return time_machine.travel(timezone.now() + datetime.timedelta(minutes=minutes), tick=True)


def assert_valid_r4(resource: dict) -> None:
    get_fhir_model_class(resource["resourceType"]).model_validate(resource)


# --- what gets queued ------------------------------------------------------------------


def test_completing_a_screening_queues_every_resource_in_its_transaction(
    connection, patient, referrer
):
    screening = completed_screening(patient, referrer)
    expected = screening_fhir.screening_resources(screening)
    queued = list(OutboxMessage.objects.filter(aggregate=f"screening:{screening.pk}"))
    assert [m.resource_type for m in queued] == [r.resource_type for r in expected]
    assert [m.sequence for m in queued] == list(range(1, len(expected) + 1))
    assert all(m.state == State.PENDING for m in queued)
    assert DBTaskResult.objects.filter(task_path="interop.tasks.send_outbox").exists()


def test_a_failed_completion_queues_nothing(connection, patient, referrer):
    from django.core.exceptions import ValidationError

    from tests.factories import ScreeningFactory

    screening = ScreeningFactory(patient=patient, started_by=referrer)
    with pytest.raises(ValidationError):
        screening.complete(by=referrer)  # no answers yet
    assert not OutboxMessage.objects.exists()


def test_nothing_is_queued_without_an_active_connection_that_takes_screenings(
    connection, patient, referrer
):
    connection.send_screenings = False
    connection.save()
    completed_screening(patient, referrer)
    connection.send_screenings, connection.is_active = True, False
    connection.save()
    completed_screening(patient, referrer)
    assert not OutboxMessage.objects.exists()


def test_another_organizations_connection_gets_nothing(fhir, other_org, patient, referrer):
    from interop.models import EhrConnection

    EhrConnection.objects.create(organization=other_org, base_url=fhir.base_url)
    completed_screening(patient, referrer)
    assert not OutboxMessage.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_enqueue_refuses_to_run_outside_a_transaction(connection):
    with pytest.raises(RuntimeError, match="inside the caller's transaction"):
        enqueue(connection, "screening:1", [])


# --- sending ---------------------------------------------------------------------------


def test_screening_lands_on_the_ehr_once_each_with_references_to_its_resources(
    connection, patient, referrer, fhir
):
    screening = completed_screening(patient, referrer)
    result = send()
    total = OutboxMessage.objects.count()
    assert result == {"sent": total, "retrying": 0, "rejected": 0, "superseded": 0}

    patients = fhir.search("Patient")
    assert len(patients) == 1
    assert patients[0]["identifier"] == [{"system": MRN_SYSTEM, "value": "MRN-1001"}]
    subject = f"Patient/{patients[0]['id']}"

    responses = fhir.search("QuestionnaireResponse")
    observations = fhir.search("Observation")
    conditions = fhir.search("Condition")
    expected = screening_fhir.screening_resources(screening)
    assert len(responses) == 1
    assert len(observations) == sum(r.resource_type == "Observation" for r in expected)
    assert len(conditions) == screening.needs.count() == 2
    # Exactly once: every portal identifier appears on one resource only.
    for kind, found in (("observation", observations), ("condition", conditions)):
        values = [i["value"] for r in found for i in r["identifier"]]
        assert len(values) == len(set(values))
        assert {i["system"] for r in found for i in r["identifier"]} == {portal_system(kind)}

    qr = responses[0]
    assert qr["identifier"] == {
        "system": "urn:handoff:questionnaireresponse",
        "value": f"screening-{screening.pk}",
    }
    assert qr["subject"] == {"reference": subject}
    for observation in observations:
        assert observation["subject"] == {"reference": subject}
        for derived in observation.get("derivedFrom", []):
            kind, server_id = derived["reference"].split("/")
            assert fhir.get(f"{kind}/{server_id}")["id"] == server_id  # resolves on the EHR
    food = by_identifier(conditions, f"need-{screening.needs.get(category='food-insecurity').pk}")
    evidence = [d["reference"] for e in food["evidence"] for d in e["detail"]]
    assert evidence and all(
        ref.split("/")[1] in {o["id"] for o in observations} for ref in evidence
    )
    for resource in [*patients, qr, *observations, *conditions]:
        assert_valid_r4(resource)


def test_every_payload_the_portal_queues_validates_as_r4(connection, patient, referrer):
    completed_screening(patient, referrer)
    for message in OutboxMessage.objects.all():
        assert_valid_r4(message.payload)


def test_resending_updates_in_place_and_never_duplicates(connection, patient, referrer, fhir):
    screening = completed_screening(patient, referrer)
    send()
    before = {
        kind: len(fhir.search(kind))
        for kind in ("QuestionnaireResponse", "Observation", "Condition", "Patient")
    }
    qr_id = fhir.search("QuestionnaireResponse")[0]["id"]

    with transaction.atomic():
        again = enqueue_screening(screening)
    assert again
    send()
    after = {kind: len(fhir.search(kind)) for kind in before}
    assert after == before
    assert len(fhir.history("QuestionnaireResponse", qr_id)) == 2  # updated, not copied
    assert set(OutboxMessage.objects.values_list("state", flat=True)) == {State.SENT}


def test_a_patient_the_ehr_already_has_is_found_by_mrn_not_created(
    connection, patient, referrer, fhir
):
    existing = fhir.session.post(
        f"{fhir.base_url}Patient",
        json={
            "resourceType": "Patient",
            "identifier": [{"system": MRN_SYSTEM, "value": "MRN-1001"}],
            "name": [{"family": "Díaz", "given": ["Rosa María"]}],
        },
        timeout=5,
    ).json()
    completed_screening(patient, referrer)
    completed_screening(patient, referrer)
    send()
    patients = fhir.search("Patient")
    assert [p["id"] for p in patients] == [existing["id"]]
    assert patients[0]["name"][0]["family"] == "Díaz"  # the EHR's record is left as it was
    assert {o["subject"]["reference"] for o in fhir.search("Observation")} == {
        f"Patient/{existing['id']}"
    }


def test_a_patient_without_an_mrn_is_registered_once_by_the_portals_identifier(
    connection, clinic, referrer, fhir
):
    patient = PatientFactory(organization=clinic, mrn="")
    completed_screening(patient, referrer)
    RemoteResource.objects.filter(resource_type="Patient").delete()  # forget the cached id
    completed_screening(patient, referrer)
    send()
    patients = fhir.search("Patient")
    assert len(patients) == 1
    assert patients[0]["identifier"] == [
        {"system": "urn:handoff:patient", "value": str(patient.pk)}
    ]


def test_sync_state_says_sent_and_when(connection, patient, referrer):
    screening = completed_screening(patient, referrer)
    assert sync_state_for(f"screening:{screening.pk}").text == "Waiting to be sent to the EHR"
    send()
    state = sync_state_for(f"screening:{screening.pk}")
    assert state.kind == "sent"
    assert state.text == "Sent to EHR now"
    with later(2):
        text = sync_state_for(f"screening:{screening.pk}").text
    assert text.replace("\xa0", " ") == "Sent to EHR 2 minutes ago"


# --- the EHR goes away -------------------------------------------------------------------


def test_server_down_then_back_everything_arrives_once_and_in_order(
    connection, patient, referrer, fhir
):
    first = completed_screening(patient, referrer)
    send()
    fhir.stop()
    second = completed_screening(patient, referrer)
    result = send()
    assert result["sent"] == 0 and result["retrying"] == 1  # one probe, not one per message
    connection.refresh_from_db()
    assert connection.unreachable_since is not None
    state = sync_state_for(f"screening:{second.pk}")
    assert state.kind == "waiting"
    assert state.text.startswith("Waiting — EHR unreachable since ")
    assert state.text.endswith(", retrying")
    # A wake-up is planned for the retry; running early sends nothing.
    assert DBTaskResult.objects.filter(
        task_path="interop.tasks.send_outbox", status="READY", run_after__gt=timezone.now()
    ).exists()
    assert send()["sent"] == 0

    fhir.start()
    with later():
        send()
    assert not OutboxMessage.objects.exclude(state=State.SENT).exists()
    connection.refresh_from_db()
    assert connection.unreachable_since is None

    responses = fhir.search("QuestionnaireResponse")
    assert sorted(r["identifier"]["value"] for r in responses) == sorted(
        [f"screening-{first.pk}", f"screening-{second.pk}"]
    )
    assert len(fhir.search("Patient")) == 1
    expected = len(screening_fhir.screening_resources(first)) + len(
        screening_fhir.screening_resources(second)
    )
    stored = sum(len(fhir.search(k)) for k in ("QuestionnaireResponse", "Observation", "Condition"))
    assert stored == expected
    # In order: the second screening's resources were stored in its sequence order.
    messages = OutboxMessage.objects.filter(aggregate=f"screening:{second.pk}").order_by("sequence")
    stamps = [fhir.get(f"{m.resource_type}/{m.server_id}")["meta"]["lastUpdated"] for m in messages]
    assert stamps == sorted(stamps)


def test_an_older_change_never_overwrites_a_newer_one(connection, patient, referrer, fhir):
    screening = completed_screening(patient, referrer)
    need = screening.needs.get(category="food-insecurity")
    need.resolve(by=referrer, note="Enrolled in SNAP")
    with transaction.atomic():
        enqueue_screening(screening)  # the same resources again, the need now resolved
    older = OutboxMessage.objects.filter(identifier_value=f"need-{need.pk}").order_by("pk")
    assert [m.state for m in older] == [State.SUPERSEDED, State.PENDING]
    send()
    conditions = fhir.search("Condition", identifier=f"urn:handoff:condition|need-{need.pk}")
    assert len(conditions) == 1
    assert conditions[0]["clinicalStatus"]["coding"][0]["code"] == "resolved"
    assert len(fhir.history("Condition", conditions[0]["id"])) == 1  # the stale one never went

    # Even forced back into the queue, the older state is skipped, not sent.
    stale = older.first()
    OutboxMessage.objects.filter(pk=stale.pk).update(state=State.REJECTED)
    assert retry(stale)
    assert send()["superseded"] == 1
    conditions = fhir.search("Condition", identifier=f"urn:handoff:condition|need-{need.pk}")
    assert conditions[0]["clinicalStatus"]["coding"][0]["code"] == "resolved"


def test_a_worker_that_died_mid_send_is_taken_over_without_a_copy(
    connection, patient, referrer, fhir
):
    from interop.outbox import _claim_next, deliver

    completed_screening(patient, referrer)
    claimed = _claim_next(set())
    deliver(claimed)  # it reached the EHR, but say the worker died before recording that:
    OutboxMessage.objects.filter(pk=claimed.pk).update(
        state=State.PENDING, sent_at=None, claim=claimed.claim, claimed_until=claimed.claimed_until
    )
    assert _claim_next(set()) is None  # its lease holds it, and the rest wait behind it
    with later(5):  # the lease has run out
        send()
    responses = fhir.search("QuestionnaireResponse")
    assert len(responses) == 1
    assert len(fhir.history("QuestionnaireResponse", responses[0]["id"])) == 2
    assert not OutboxMessage.objects.exclude(state=State.SENT).exists()


def test_two_workers_never_send_one_aggregates_changes_at_once(connection, patient, referrer):
    from interop.outbox import _claim_next

    first = completed_screening(patient, referrer)
    second = completed_screening(patient, referrer)
    a = _claim_next(set())
    b = _claim_next(set())
    assert {a.aggregate, b.aggregate} == {f"screening:{first.pk}", f"screening:{second.pk}"}
    assert a.sequence == b.sequence == 1
    assert _claim_next(set()) is None  # everything else waits behind those two


# --- the EHR says no ---------------------------------------------------------------------


def test_a_resource_the_ehr_rejects_shows_its_reason_and_holds_what_follows(
    connection, patient, referrer, fhir
):
    screening = completed_screening(patient, referrer)
    first = OutboxMessage.objects.get(aggregate=f"screening:{screening.pk}", sequence=1)
    broken = {**first.payload, "colour": "blue"}  # no such element in FHIR
    OutboxMessage.objects.filter(pk=first.pk).update(payload=broken)

    result = send()
    assert result["rejected"] == 1 and result["sent"] == 0
    first.refresh_from_db()
    assert first.state == State.REJECTED
    assert 'Invalid additional property "colour"' in first.outcome_text
    assert first.attempts == 1  # a 4xx is not retried
    state = sync_state_for(f"screening:{screening.pk}")
    assert state.kind == "rejected"
    assert state.text.startswith('Rejected by EHR: Invalid additional property "colour"')
    # Later changes of the same screening wait behind it, in order.
    assert not fhir.search("Observation")
    with later():
        assert send()["sent"] == 0

    # Fixed (here by hand), an admin's retry sends it and everything after it.
    OutboxMessage.objects.filter(pk=first.pk).update(
        payload={k: v for k, v in broken.items() if k != "colour"}
    )
    assert retry(first)
    send()
    assert not OutboxMessage.objects.exclude(state=State.SENT).exists()
    assert sync_state_for(f"screening:{screening.pk}").kind == "sent"


def test_a_server_error_is_retried_later_and_lands_once(connection, patient, referrer, fhir):
    screening = completed_screening(patient, referrer)
    fhir.fail_next(2)  # the patient search, then the retried search
    result = send()
    assert result["retrying"] == 1 and result["sent"] == 0
    first = OutboxMessage.objects.get(aggregate=f"screening:{screening.pk}", sequence=1)
    assert first.state == State.PENDING
    assert first.next_attempt_at > timezone.now()
    assert "HTTP 503: Told to fail by the test" in first.last_error
    connection.refresh_from_db()
    assert connection.unreachable_since is None  # it answered: not a down EHR
    state = sync_state_for(f"screening:{screening.pk}")
    assert state.text.startswith("Waiting — the EHR answered with an error, retrying")
    with later(1):
        assert send()["retrying"] == 1
    with later(5):
        send()
    first.refresh_from_db()
    assert first.state == State.SENT and first.attempts == 3
    assert len(fhir.search("QuestionnaireResponse")) == 1
    assert len(fhir.search("Patient")) == 1


def test_a_resource_the_ehr_keeps_failing_on_stops_for_an_admin(
    connection, patient, referrer, fhir
):
    from interop.outbox import MAX_ATTEMPTS

    screening = completed_screening(patient, referrer)
    fhir.fail_next(MAX_ATTEMPTS)
    for step in range(MAX_ATTEMPTS):  # each try after the (at most an hour) backoff
        with later(61 * step):
            send()
    first = OutboxMessage.objects.get(aggregate=f"screening:{screening.pk}", sequence=1)
    assert first.state == State.FAILED
    assert first.attempts == MAX_ATTEMPTS
    state = sync_state_for(f"screening:{screening.pk}")
    assert state.kind == "failed"
    assert retry(first)
    send()
    assert not OutboxMessage.objects.exclude(state=State.SENT).exists()


def test_a_patient_deleted_before_sending_is_a_rejection_not_a_crash(
    connection, patient, referrer, fhir
):
    screening = completed_screening(patient, referrer)
    patient.delete()
    assert send()["rejected"] == 1
    state = sync_state_for(f"screening:{screening.pk}")
    assert state.text == "Not sent: The patient no longer exists in the portal."
    assert not fhir.search("QuestionnaireResponse")


def test_backoff_doubles_and_is_capped():
    from interop.outbox import LONGEST_WAIT, backoff

    waits = [backoff(n).total_seconds() for n in (1, 2, 3)]
    assert 5 <= waits[0] <= 5.5 and 10 <= waits[1] <= 11 and 20 <= waits[2] <= 22
    assert backoff(40) <= LONGEST_WAIT * 1.1


def test_one_run_never_sends_an_older_copy_after_a_newer_one_it_sent():
    """The sender checks a batch at a time and records its sends a batch at a time; until
    they are recorded it remembers what it sent, so the order rules hold in between."""
    from interop.outbox import _Run

    def message(pk, version):
        return OutboxMessage(
            pk=pk,
            connection_id=1,
            resource_type="Task",
            identifier_system="urn:handoff:task",
            identifier_value="t-1",
            source_version=version,
        )

    run = _Run(known={})
    assert not run.is_superseded(message(10, 3))
    run.sent(message(10, 3), "abc", "1", timezone.now())
    assert run.is_superseded(message(9, 2))  # an older version
    assert run.is_superseded(message(8, 3))  # the same version, queued earlier
    assert not run.is_superseded(message(11, 4))  # a newer version still goes
    assert not run.is_superseded(message(12, 3))  # the same version, queued later
    assert run.is_superseded(message(7, None))  # no version: the queue order decides
    assert not run.is_superseded(message(13, None))
    other = message(5, 1)
    other.identifier_value = "t-2"
    assert not run.is_superseded(other)  # another resource

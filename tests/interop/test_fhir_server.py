"""The test FHIR server itself: conditional updates by identifier, and its change feed."""

from __future__ import annotations

TASK = {"resourceType": "Task", "status": "requested", "intent": "order"}


def put(fhir, value: str, **fields):
    body = {**TASK, "identifier": [{"system": "urn:t", "value": value}], **fields}
    return fhir.session.put(f"{fhir.base_url}Task?identifier=urn:t|{value}", json=body, timeout=5)


def test_conditional_update_creates_then_updates_in_place(fhir):
    first = put(fhir, "a")
    assert first.status_code == 201
    second = put(fhir, "a", status="accepted")
    assert second.status_code == 200
    assert second.json()["id"] == first.json()["id"]
    assert [t["status"] for t in fhir.search("Task")] == ["accepted"]
    assert len(fhir.history("Task", first.json()["id"])) == 2


def test_two_resources_with_one_identifier_make_a_conditional_update_fail(fhir):
    for _ in range(2):
        body = {**TASK, "identifier": [{"system": "urn:t", "value": "twin"}]}
        fhir.session.post(f"{fhir.base_url}Task", json=body, timeout=5).raise_for_status()
    assert put(fhir, "twin").status_code == 412


def test_an_identifier_changed_by_an_update_is_found_by_its_new_value(fhir):
    made = put(fhir, "old").json()
    body = {**TASK, "id": made["id"], "identifier": [{"system": "urn:t", "value": "new"}]}
    fhir.session.put(f"{fhir.base_url}Task/{made['id']}", json=body, timeout=5).raise_for_status()
    assert put(fhir, "new", status="accepted").json()["id"] == made["id"]
    assert put(fhir, "old").status_code == 201  # nothing holds "old" any more


def test_the_change_feed_lists_writes_in_order_and_survives_a_restart(fhir):
    put(fhir, "a")
    put(fhir, "b")
    put(fhir, "a", status="accepted")
    feed = fhir.get("$changes")
    assert feed["last"] == 3
    assert [c["identifier"][0]["value"] for c in feed["changes"]] == ["a", "b", "a"]
    assert [c["identifier"][0]["value"] for c in fhir.get("$changes?since=2")["changes"]] == ["a"]
    fhir.stop()
    fhir.start()
    assert put(fhir, "b", status="accepted").status_code == 200  # the index is rebuilt

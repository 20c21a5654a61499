"""Signing in to the EHR: a bearer token, or SMART Backend Services with a signed JWT."""

from __future__ import annotations

import json

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from interop.client import check_connection, client_assertion
from interop.models import EhrConnection, OutboxMessage
from interop.tasks import send_outbox
from tests.interop.conftest import completed_screening

pytestmark = pytest.mark.django_db


def pem(key) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


KEYS = {
    "RS384": (lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048), RSAAlgorithm),
    "ES384": (lambda: ec.generate_private_key(ec.SECP384R1()), ECAlgorithm),
}


@pytest.fixture(params=sorted(KEYS))
def smart(request, clinic, fhir):
    """A SMART Backend Services connection; the test server trusts the key's public half."""
    make, algorithm = KEYS[request.param]
    key = make()
    token_url = f"{fhir.base_url}token"
    connection = EhrConnection.objects.create(
        organization=clinic,
        base_url=fhir.base_url,
        auth_kind=EhrConnection.AuthKind.SMART_BACKEND,
        client_id="handoff-riverside",
        token_url=token_url,
        private_key_pem=pem(key),
        key_id="key-1",
        algorithm=request.param,
    )
    jwk = json.loads(algorithm.to_jwk(key.public_key()))
    fhir.require_auth(jwk=jwk, clientId="handoff-riverside", tokenUrl=token_url)
    connection.public_key = key.public_key()
    return connection


def test_client_assertion_carries_the_smart_claims(smart):
    assertion = client_assertion(smart)
    header = jwt.get_unverified_header(assertion)
    assert header["alg"] == smart.algorithm
    assert header["kid"] == "key-1"
    claims = jwt.decode(
        assertion, smart.public_key, algorithms=[smart.algorithm], audience=smart.token_url
    )
    assert claims["iss"] == claims["sub"] == "handoff-riverside"
    assert claims["exp"] - claims["iat"] <= 300
    assert claims["jti"]
    assert client_assertion(smart) != assertion  # a fresh jti each time


def test_smart_backend_services_signs_in_and_sends(smart, patient, referrer, fhir):
    assert check_connection(smart).ok
    completed_screening(patient, referrer)
    send_outbox.call()
    assert not OutboxMessage.objects.exclude(state="sent").exists()
    fhir.require_auth()  # the test's own look needs no token
    assert len(fhir.search("QuestionnaireResponse")) == 1


def test_a_key_the_ehr_does_not_know_is_refused_with_the_reason(smart, patient, referrer, fhir):
    other, _algorithm = KEYS[smart.algorithm]
    smart.private_key_pem = pem(other())
    smart.save()
    report = check_connection(smart)
    assert not report.ok
    assert "The token endpoint refused the client: bad signature" in report.problems[0]
    screening = completed_screening(patient, referrer)
    send_outbox.call()
    first = OutboxMessage.objects.get(aggregate=f"screening:{screening.pk}", sequence=1)
    assert first.state == "rejected"
    assert "bad signature" in first.outcome_text


def test_bearer_token_connection(clinic, fhir, patient, referrer):
    fhir.require_auth(bearer="ehr-issued-token")
    connection = EhrConnection.objects.create(
        organization=clinic,
        base_url=fhir.base_url,
        auth_kind=EhrConnection.AuthKind.BEARER,
        bearer_token="ehr-issued-token",
    )
    assert check_connection(connection).ok
    completed_screening(patient, referrer)
    send_outbox.call()
    assert not OutboxMessage.objects.exclude(state="sent").exists()


def test_a_wrong_bearer_token_is_a_rejection_with_the_ehrs_words(clinic, fhir, patient, referrer):
    fhir.require_auth(bearer="ehr-issued-token")
    connection = EhrConnection.objects.create(
        organization=clinic,
        base_url=fhir.base_url,
        auth_kind=EhrConnection.AuthKind.BEARER,
        bearer_token="an-old-token",
    )
    report = check_connection(connection)
    assert not report.reachable
    assert "HTTP 401: A valid bearer token is required" in report.problems[0]
    completed_screening(patient, referrer)
    send_outbox.call()
    rejected = OutboxMessage.objects.get(sequence=1)
    assert rejected.state == "rejected"
    assert rejected.outcome_text == "A valid bearer token is required"

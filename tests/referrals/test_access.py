"""Who may reach which referral URL: every URL × role × own / other organization.

The cast: the clinic that referred (referrer, clinic_admin), the food bank that received
(staff, food_admin), and outsiders: another community organization (stranger, other_staff)
and another clinic (outside_referrer). Outsiders get 404 for every object URL.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import Role
from referrals.models import Referral
from referrals.transitions import Status
from tests.factories import ClinicFactory, member

pytestmark = pytest.mark.django_db

INSIDERS = ["referrer", "clinic_admin", "staff", "food_admin"]
OUTSIDERS = ["stranger", "other_staff", "outside_referrer"]
EVERYONE = INSIDERS + OUTSIDERS


@pytest.fixture
def other_staff(other_org):
    return member(other_org, Role.CBO_STAFF)


@pytest.fixture
def outside_referrer(db):
    return member(ClinicFactory(name="Another Clinic"), Role.REFERRER)


def _as(client, request, name):
    user = request.getfixturevalue(name)
    client.force_login(user)
    return user


# (name, method, url builder, data, who gets a non-404 answer)
OBJECT_URLS = [
    ("detail", "get", lambda r: reverse("referrals:detail", args=[r.pk]), {}, INSIDERS),
    (
        "detail-partial",
        "get",
        lambda r: reverse("referrals:detail", args=[r.pk]) + "?part=timeline",
        {},
        INSIDERS,
    ),
    (
        "message",
        "post",
        lambda r: reverse("referrals:message", args=[r.pk]),
        {"body": "hi"},
        INSIDERS,
    ),
    ("accept", "post", lambda r: reverse("referrals:act", args=[r.pk, "accept"]), {}, INSIDERS),
    (
        "cancel",
        "post",
        lambda r: reverse("referrals:act", args=[r.pk, "cancel"]),
        {"reason": "other"},
        INSIDERS,
    ),
    (
        "step",
        "post",
        lambda r: reverse("referrals:step", args=[r.pk]),
        {"step": "trying-to-reach"},
        ["staff", "food_admin"],
    ),
    (
        "reroute",
        "get",
        lambda r: reverse("referrals:reroute", args=[r.pk]),
        {},
        ["referrer", "clinic_admin"],
    ),
]


@pytest.mark.parametrize("who", EVERYONE)
@pytest.mark.parametrize(
    ("name", "method", "url", "data", "allowed"), OBJECT_URLS, ids=[u[0] for u in OBJECT_URLS]
)
def test_object_urls(client, request, sent, who, name, method, url, data, allowed):
    _as(client, request, who)
    before = Referral.objects.values().get(pk=sent.pk)
    response = getattr(client, method)(url(sent), data)
    if who in allowed:
        assert response.status_code in (200, 302), (name, who, response.status_code)
    else:
        assert response.status_code == 404, (name, who, response.status_code)
        after = Referral.objects.values().get(pk=sent.pk)
        assert after == before
        assert not sent.messages.exists()


@pytest.mark.parametrize("who", INSIDERS)
def test_only_the_receiving_side_can_accept(client, request, sent, who):
    _as(client, request, who)
    client.post(reverse("referrals:act", args=[sent.pk, "accept"]))
    sent.refresh_from_db()
    expected = Status.ACCEPTED if who in ("staff", "food_admin") else Status.REQUESTED
    assert sent.status == expected


@pytest.mark.parametrize("who", INSIDERS)
def test_only_the_referring_side_can_cancel(client, request, sent, who):
    _as(client, request, who)
    client.post(
        reverse("referrals:act", args=[sent.pk, "cancel"]),
        {"reason": "other", "reason_text": "Moved away"},
    )
    sent.refresh_from_db()
    expected = Status.CANCELLED if who in ("referrer", "clinic_admin") else Status.REQUESTED
    assert sent.status == expected


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("referrer", 200),
        ("clinic_admin", 200),
        ("staff", 403),  # not a referring role
        ("food_admin", 200),  # an admin sees their organization's (empty) sent list
        ("stranger", 200),
        ("other_staff", 403),
        ("outside_referrer", 200),
    ],
)
def test_referral_list_shows_only_own_organizations(client, request, sent, who, status):
    _as(client, request, who)
    response = client.get(reverse("referrals:list"))
    assert response.status_code == status
    if status == 200:
        shown = {r.pk for r in response.context["referrals"]}
        assert (sent.pk in shown) == (who in ("referrer", "clinic_admin"))


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("referrer", 403),
        ("clinic_admin", 200),
        ("staff", 200),
        ("food_admin", 200),
        ("stranger", 200),
        ("other_staff", 200),
        ("outside_referrer", 403),
    ],
)
def test_inbox_shows_only_referrals_received(client, request, sent, who, status):
    _as(client, request, who)
    response = client.get(reverse("referrals:inbox"))
    assert response.status_code == status
    if status == 200:
        shown = {r.pk for r in response.context["rows"]}
        assert (sent.pk in shown) == (who in ("staff", "food_admin"))


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("referrer", 302),
        ("clinic_admin", 302),
        ("staff", 403),
        ("food_admin", 403),  # the food bank does not refer people
        ("stranger", 403),
        ("other_staff", 403),
        ("outside_referrer", 404),
    ],
)
def test_withdrawing_consent(client, request, sent, who, status):
    _as(client, request, who)
    response = client.post(reverse("referrals:withdraw_consent", args=[sent.consent.pk]))
    assert response.status_code == status
    sent.consent.refresh_from_db()
    assert (sent.consent.withdrawn_at is not None) == (status == 302)


@pytest.mark.parametrize("who", EVERYONE)
def test_starting_a_referral_for_another_organizations_patient_is_404(client, request, sent, who):
    user = _as(client, request, who)
    response = client.get(
        reverse("referrals:new"), {"service": sent.service.pk, "patient": sent.patient.pk}
    )
    if who in ("referrer", "clinic_admin"):
        assert response.status_code == 200
    elif user.memberships.get().role == Role.CBO_STAFF or who in ("food_admin", "stranger"):
        assert response.status_code == 403  # not a referring organization or role
    else:
        assert response.status_code == 404


@pytest.mark.parametrize(
    ("who", "status"),
    [("clinic_admin", 200), ("food_admin", 200), ("referrer", 403), ("staff", 403)],
)
def test_audit_log_is_for_org_admins_and_scoped(client, request, sent, who, status):
    _as(client, request, who)
    response = client.get(reverse("referrals:audit"))
    assert response.status_code == status
    csv = client.get(reverse("referrals:audit_csv"))
    assert csv.status_code == status
    if status == 200:
        body = b"".join(csv.streaming_content).decode()
        assert body.startswith("when,who")


def test_audit_log_of_an_outsider_shows_nothing_of_ours(client, sent, stranger):
    client.force_login(stranger)
    assert client.get(reverse("referrals:audit")).context["rows"] == []

"""Members in the portal: add (as a viewer unless chosen), change a role,
deactivate, reactivate, remove; each audited, and never the last owner."""

from __future__ import annotations

import logging

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse
from django_tenants.utils import schema_context

from tenants import services
from tenants.roles import Role, role_of
from tests.conftest import Account


def _action(member_id: int, verb: str) -> str:
    return reverse("member-action", kwargs={"member_id": member_id, "verb": verb})


MEMBER_PASSWORD = "pw-member-1"


def _member(alpha, email: str, role: Role):
    with schema_context(alpha.schema_name):
        return services.member_create(email=email, role=role, password=MEMBER_PASSWORD)


def _user(alpha, account):
    with schema_context(alpha.schema_name):
        return alpha.user(account)


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_the_add_form_offers_viewer_first_and_chooses_it(alpha):
    html = alpha.client(alpha.owner).get("/members/").content.decode()
    form = html[html.index("Add a member") :]
    assert '<option value="viewer" selected>Viewer</option>' in form
    assert form.index('value="viewer"') < form.index('value="owner"')


def test_an_owner_changes_a_role_and_it_is_audited(alpha, caplog):
    client = alpha.client(alpha.owner)
    viewer = _user(alpha, alpha.viewer)
    with caplog.at_level(logging.INFO, logger="facet.security"):
        response = client.post(_action(viewer.pk, "role"), {"role": "operator"}, follow=True)
    assert f"{alpha.viewer.email} is now operator." in _messages(response)
    with schema_context(alpha.schema_name):
        assert role_of(_user(alpha, alpha.viewer)) is Role.OPERATOR
        entry = LogEntry.objects.get(object_id=str(viewer.pk))
        assert entry.user.email == alpha.owner.email
        assert entry.change_message == "Role changed from viewer to operator."
    [record] = [r for r in caplog.records if getattr(r, "event", "") == "member_role_changed"]
    assert (record.actor, record.member, record.old_role, record.role) == (
        alpha.owner.email,
        alpha.viewer.email,
        "viewer",
        "operator",
    )
    # The members page shows the change: who, when, what.
    html = response.content.decode()
    history = html[html.index("Recent changes") :]
    assert alpha.owner.email in history and "Role changed from viewer to operator." in history
    assert "<time datetime=" in history


@pytest.mark.parametrize(
    ("verb", "data"), [("role", {"role": "admin"}), ("deactivate", {}), ("remove", {})]
)
def test_the_last_owner_cannot_be_demoted_deactivated_or_removed(alpha, verb, data):
    """Not by the service, and not through the page: a tenant keeps an active owner."""
    owner = _user(alpha, alpha.owner)
    with (
        schema_context(alpha.schema_name),
        pytest.raises(services.MemberRefused, match="last owner"),
    ):
        {
            "role": lambda: services.member_change_role(actor=None, user=owner, role=Role.ADMIN),
            "deactivate": lambda: services.member_deactivate(actor=None, user=owner),
            "remove": lambda: services.member_remove(actor=None, user=owner),
        }[verb]()
    response = alpha.client(alpha.owner).post(_action(owner.pk, verb), data, follow=True)
    assert response.status_code == 200
    [message] = _messages(response)
    assert "last owner" in message or "yourself" in message
    with schema_context(alpha.schema_name):
        owner = _user(alpha, alpha.owner)
        assert owner.is_active and role_of(owner) is Role.OWNER
        assert not LogEntry.objects.exists()


def test_with_a_second_owner_the_first_may_step_down(alpha):
    second = _member(alpha, "second.owner@alpha.test", Role.OWNER)
    client = alpha.client(alpha.owner)
    owner = _user(alpha, alpha.owner)
    response = client.post(_action(owner.pk, "role"), {"role": "admin"}, follow=True)
    assert f"{alpha.owner.email} is now admin." in _messages(response)
    with schema_context(alpha.schema_name):
        assert role_of(_user(alpha, alpha.owner)) is Role.ADMIN
        with pytest.raises(services.MemberRefused, match="last owner"):
            services.member_change_role(actor=None, user=second, role=Role.VIEWER)


def test_admins_cannot_make_owners_or_change_one(alpha):
    _member(alpha, "admin@alpha.test", Role.ADMIN)
    admin = alpha.client(Account("admin@alpha.test", MEMBER_PASSWORD))
    owner = _user(alpha, alpha.owner)
    viewer = _user(alpha, alpha.viewer)
    refused = [
        admin.post(_action(viewer.pk, "role"), {"role": "owner"}, follow=True),
        admin.post(_action(owner.pk, "deactivate"), follow=True),
        admin.post(_action(owner.pk, "remove"), follow=True),
        admin.post("/members/", {"email": "boss@alpha.test", "role": "owner"}),
    ]
    for response in refused[:3]:
        assert _messages(response) == [
            "Only owners can make someone an owner or change an owner's access."
        ]
    assert b"Only owners can make someone an owner" in refused[3].content
    with schema_context(alpha.schema_name):
        assert role_of(_user(alpha, alpha.viewer)) is Role.VIEWER
        assert _user(alpha, alpha.owner).is_active
        assert not LogEntry.objects.exists()
    # What admins may do: change, add and remove the others.
    done = admin.post(_action(viewer.pk, "role"), {"role": "operator"}, follow=True)
    assert _messages(done) == [f"{alpha.viewer.email} is now operator."]


def test_deactivating_signs_the_member_out_and_reactivating_lets_them_back(alpha, caplog):
    owner = alpha.client(alpha.owner)
    viewer_id = _user(alpha, alpha.viewer).pk
    signed_in = alpha.client(alpha.viewer)
    assert signed_in.get("/").status_code == 200

    with caplog.at_level(logging.INFO, logger="facet.security"):
        response = owner.post(_action(viewer_id, "deactivate"), follow=True)
    assert _messages(response) == [
        f"{alpha.viewer.email} is deactivated and signed out; they cannot sign in."
    ]
    assert "deactivated" in response.content.decode()
    assert signed_in.get("/").status_code == 302  # their session is gone
    refused = alpha.client().post(
        "/accounts/login/", {"username": alpha.viewer.email, "password": alpha.viewer.password}
    )
    assert refused.status_code == 200  # the sign-in form again, with its error

    response = owner.post(_action(viewer_id, "reactivate"), follow=True)
    assert _messages(response) == [f"{alpha.viewer.email} can sign in again."]
    back = alpha.client().post(
        "/accounts/login/", {"username": alpha.viewer.email, "password": alpha.viewer.password}
    )
    assert back.status_code == 302
    events = [getattr(r, "event", "") for r in caplog.records]
    assert "member_deactivated" in events
    with schema_context(alpha.schema_name):
        assert list(
            LogEntry.objects.filter(object_id=str(viewer_id))
            .order_by("pk")
            .values_list("change_message", flat=True)
        ) == ["Deactivated.", "Reactivated."]


def test_removing_a_member_deletes_the_account_and_keeps_the_record(alpha, caplog):
    owner = alpha.client(alpha.owner)
    viewer = _user(alpha, alpha.viewer)
    with caplog.at_level(logging.INFO, logger="facet.security"):
        response = owner.post(_action(viewer.pk, "remove"), follow=True)
    assert _messages(response) == [f"{alpha.viewer.email} is removed."]
    with schema_context(alpha.schema_name):
        assert not type(viewer).objects.filter(pk=viewer.pk).exists()
        entry = LogEntry.objects.get(object_id=str(viewer.pk))
        assert entry.is_deletion() and entry.object_repr == alpha.viewer.email
    [record] = [r for r in caplog.records if getattr(r, "event", "") == "member_removed"]
    assert record.member == alpha.viewer.email and record.actor == alpha.owner.email
    # A second click finds nobody: a message, not an error page.
    again = owner.post(_action(viewer.pk, "remove"), follow=True)
    assert _messages(again) == ["That member was removed meanwhile."]


def test_nobody_deactivates_or_removes_themselves(alpha):
    _member(alpha, "second.owner@alpha.test", Role.OWNER)
    owner = alpha.client(alpha.owner)
    me = _user(alpha, alpha.owner).pk
    for verb in ("deactivate", "remove"):
        response = owner.post(_action(me, verb), follow=True)
        assert _messages(response) == [f"You cannot {verb} yourself; ask another owner or admin."]


def test_adding_a_member_is_audited(alpha):
    alpha.client(alpha.owner).post("/members/", {"email": "new@alpha.test", "role": "viewer"})
    with schema_context(alpha.schema_name):
        entry = LogEntry.objects.get()
        assert entry.is_addition() and entry.object_repr == "new@alpha.test"
        assert entry.change_message == "Added as viewer."


def test_viewers_and_strangers_cannot_change_members(alpha):
    viewer_id = _user(alpha, alpha.viewer).pk
    owner_id = _user(alpha, alpha.owner).pk
    assert alpha.client(alpha.viewer).post(_action(owner_id, "deactivate")).status_code == 403
    assert alpha.client().post(_action(owner_id, "remove")).status_code == 302
    assert alpha.client(alpha.owner).get(_action(viewer_id, "remove")).status_code == 405
    assert alpha.client(alpha.owner).post(_action(viewer_id, "promote")).status_code == 404
    with schema_context(alpha.schema_name):
        assert _user(alpha, alpha.owner).is_active

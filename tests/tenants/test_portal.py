import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django_tenants.utils import schema_context

from tenants.roles import Role, role_of


def test_sign_in_with_email_lands_on_the_dashboard_with_tenant_name_and_counts(alpha):
    client = alpha.client()
    response = client.post(
        "/accounts/login/", {"username": alpha.owner.email, "password": alpha.owner.password}
    )
    assert response.status_code == 302
    page = client.get(response["Location"])
    assert page.status_code == 200
    html = page.content.decode()
    assert "Alpha Org" in html
    assert '<span class="value">2</span><span class="label">Members</span>' in html
    assert "/ws/events/" in Path(settings.BASE_DIR, "static/js/events.js").read_text()


def test_wrong_password_shows_an_error_on_the_sign_in_page(alpha):
    response = alpha.client().post(
        "/accounts/login/", {"username": alpha.owner.email, "password": "nope"}
    )
    assert response.status_code == 200
    assert b"e-mail address and password do not match" in response.content


def test_anonymous_visitors_are_sent_to_sign_in(alpha):
    response = alpha.client().get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_sign_out_ends_the_session(alpha):
    client = alpha.client(alpha.viewer)
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/").status_code == 302


def test_members_page_lists_roles_for_owners(alpha):
    response = alpha.client(alpha.owner).get("/members/")
    assert response.status_code == 200
    html = response.content.decode()
    assert alpha.owner.email in html and alpha.viewer.email in html
    assert '<option value="owner" selected>Owner</option>' in html
    assert '<option value="viewer" selected>Viewer</option>' in html


def test_viewers_cannot_see_members_or_the_admin(alpha):
    client = alpha.client(alpha.viewer)
    assert client.get("/members/").status_code == 403
    assert client.get("/admin/").status_code == 302  # the admin's own sign-in
    assert b'href="/members/"' not in client.get("/").content  # not in their navigation


def test_owner_adds_a_member_who_gets_a_one_time_password(alpha):
    client = alpha.client(alpha.owner)
    response = client.post(
        "/members/", {"email": "New.Operator@alpha.test", "role": "operator"}, follow=True
    )
    message = next(str(m) for m in response.context["messages"])
    password = re.search(r'<code id="one-time-password">([^<]+)</code>', message)[1]
    assert 'data-copy="one-time-password"' in message  # the copy button (static/js/portal.js)
    fresh = alpha.client()
    assert (
        fresh.post(
            "/accounts/login/", {"username": "new.operator@alpha.test", "password": password}
        ).status_code
        == 302
    )
    with schema_context(alpha.schema_name):
        user = alpha.user(type(alpha.owner)("new.operator@alpha.test", password))
        assert role_of(user) is Role.OPERATOR
        assert not user.is_staff

    again = client.post("/members/", {"email": "new.operator@alpha.test", "role": "viewer"})
    assert b"already a member" in again.content


def test_owner_reaches_the_tenant_admin_but_not_tenant_management(alpha):
    client = alpha.client(alpha.owner)
    page = client.get("/admin/")
    assert page.status_code == 200
    assert b"/admin/auth/user/" in page.content
    assert b"/admin/tenants/" not in page.content
    assert client.get("/admin/tenants/tenant/").status_code == 404  # not on tenant hosts


def test_roles_grant_what_their_names_say(alpha):
    with schema_context(alpha.schema_name):
        perms = {
            role: set(
                Group.objects.get(name=role.value).permissions.values_list("codename", flat=True)
            )
            for role in Role
        }
    assert "add_user" in perms[Role.OWNER] and "add_user" in perms[Role.ADMIN]
    assert "add_user" not in perms[Role.OPERATOR] and "view_user" not in perms[Role.VIEWER]
    assert perms[Role.VIEWER] <= perms[Role.OPERATOR] <= perms[Role.ADMIN]
    assert all(codename.startswith("view_") for codename in perms[Role.VIEWER])


@pytest.mark.django_db
def test_public_host_shows_landing_and_staff_admin_manages_tenants():
    from django.contrib.auth import get_user_model
    from django.test import Client

    client = Client(HTTP_HOST="localhost")
    assert b"Platform staff sign-in" in client.get("/").content
    staff = get_user_model().objects.create_superuser(
        "root@platform.test", "root@platform.test", "pw"
    )
    client.force_login(staff)
    listing = client.get("/admin/tenants/tenant/")
    assert listing.status_code == 200
    assert b"alpha" in listing.content and b"beta" in listing.content


def test_media_is_served_only_from_the_current_tenants_prefix(alpha, beta, tmp_path):
    for setup, body in ((alpha, b"alpha-bytes"), (beta, b"beta-bytes")):
        folder = Path(settings.MEDIA_ROOT) / setup.schema_name / "probe"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "file.txt").write_bytes(body)
    client = alpha.client(alpha.viewer)
    response = client.get("/media/probe/file.txt")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"alpha-bytes"
    assert client.get(f"/media/../{beta.schema_name}/probe/file.txt").status_code == 404
    assert client.get(f"/media/%2e%2e/{beta.schema_name}/probe/file.txt").status_code == 404
    assert client.get("/media/probe/missing.txt").status_code == 404
    assert alpha.client().get("/media/probe/file.txt").status_code == 302  # sign in first

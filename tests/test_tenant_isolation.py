"""The two-tenant canary: nothing of tenant B is reachable with tenant A's credentials.

Alpha and beta have colliding ids (user 1 is each one's owner). Every route of
beta's host is tried with alpha's session, alpha's token and no credentials;
none may answer with beta's data. ``test_every_route_has_a_canary_case``
walks the URL resolver, so a route added without a case here fails the suite.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib import admin
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django_tenants.utils import schema_context
from knox.models import AuthToken

from config.asgi import websocket_urlpatterns
from tenants.admin_site import is_tenant_model, tenant_admin_site

TENANT_URLCONF = "config.urls_tenants"
BETA_MEDIA = "canary/beta-secret.txt"
BETA_MEDIA_BYTES = b"beta-canary-bytes"


@dataclass(frozen=True)
class Route:
    method: str = "get"
    kwargs: dict = field(default_factory=dict)
    # Public routes serve no tenant data (sign-in form, API schema); they may answer 200.
    public: bool = False


ROUTES: dict[str, Route] = {
    "dashboard": Route(),
    "login": Route(public=True),
    "favicon": Route(public=True),
    "logout": Route("post", public=True),
    "members": Route(),
    "member-action": Route("post", kwargs={"member_id": 1, "verb": "deactivate"}),
    "recognition-model": Route(),
    "media-library": Route(),
    "media-detail": Route(kwargs={"media_id": 1}),
    "media-delete": Route("post", kwargs={"media_id": 1}),
    "media-retry": Route("post", kwargs={"media_id": 1}),
    "media-bulk": Route("post"),
    "media-tile": Route(kwargs={"media_id": 1}),
    "media-thumbnail": Route(kwargs={"media_id": 1, "version": "0"}),
    "media-upload": Route(),
    "face-browser": Route(),
    "api-media-list": Route(),
    "api-media-batch": Route("post"),
    "api-media-detail": Route(kwargs={"media_id": 1}),
    "api-media-retry": Route("post", kwargs={"media_id": 1}),
    "api-activity": Route(),
    "api-face-image": Route(kwargs={"face_id": 1}),
    "api-job-detail": Route(kwargs={"job_id": 1}),
    "api-stats": Route(),
    "search": Route(),
    "search-audit": Route(),
    "api-search": Route("post"),
    "protected-media": Route(kwargs={"path": BETA_MEDIA}),
    "api-token": Route("post", public=True),
    "api-logout": Route("post"),
    "api-me": Route(),
    "api-schema": Route(public=True),
    "api-docs": Route(public=True),
    "people-list": Route(),
    "person-new": Route(),
    "people-threshold": Route(),
    "person-detail": Route(kwargs={"person_id": 1}),
    "person-edit": Route(kwargs={"person_id": 1}),
    "person-enrol": Route("post", kwargs={"person_id": 1}),
    "person-merge": Route("post", kwargs={"person_id": 1}),
    "person-delete": Route("post", kwargs={"person_id": 1}),
    "person-face-delete": Route("post", kwargs={"person_id": 1, "face_id": 1}),
    "face-label": Route("post", kwargs={"face_id": 1}),
    "identify": Route(),
    "identify-audit": Route(),
    "api-people": Route(),
    "api-person": Route(kwargs={"person_id": 1}),
    "api-person-faces": Route(kwargs={"person_id": 1}),
    "api-person-face": Route("delete", kwargs={"person_id": 1, "face_id": 1}),
    "api-person-face-image": Route(kwargs={"person_id": 1, "face_id": 1}),
    "api-person-merge": Route("post", kwargs={"person_id": 1}),
    "api-person-appearances": Route(kwargs={"person_id": 1}),
    "api-face-label": Route("post", kwargs={"face_id": 1}),
    "api-identify": Route("post"),
    "clusters-list": Route(),
    "cluster-detail": Route(kwargs={"cluster_id": 1}),
    "cluster-action": Route("post", kwargs={"cluster_id": 1, "verb": "hide"}),
    "api-clusters": Route(),
    "api-cluster": Route(kwargs={"cluster_id": 1}),
    **{
        f"api-cluster-{verb}": Route("post", kwargs={"cluster_id": 1})
        for verb in ("name", "remove", "split", "merge", "hide", "reject")
    },
    "api-identify-reject": Route("post"),
    "attendance-wall": Route(),
    # The kiosk page is a shell: it serves nothing until the socket accepts a key.
    "attendance-kiosk": Route(public=True),
    "attendance-kiosks": Route(),
    "attendance-kiosk-rotate": Route("post", kwargs={"kiosk_id": 1}),
    "attendance-kiosk-revoke": Route("post", kwargs={"kiosk_id": 1}),
    "attendance-groups": Route(),
    "attendance-group": Route(kwargs={"group_id": 1}),
    "attendance-marks": Route(),
    "attendance-mark-add": Route("post"),
    "attendance-mark-remove": Route("post", kwargs={"mark_id": 1}),
    "attendance-report": Route(),
    "api-attendance-kiosks": Route(),
    "api-attendance-kiosk": Route(kwargs={"kiosk_id": 1}),
    "api-attendance-kiosk-rotate": Route("post", kwargs={"kiosk_id": 1}),
    "api-attendance-kiosk-revoke": Route("post", kwargs={"kiosk_id": 1}),
    "api-attendance-kiosk-status": Route(),
    "api-attendance-frames": Route("post"),
    "api-attendance-groups": Route(),
    "api-attendance-group": Route(kwargs={"group_id": 1}),
    "api-attendance-sessions": Route(),
    "api-attendance-session": Route(kwargs={"session_id": 1}),
    "api-attendance-events": Route(),
    "api-attendance-corrections": Route(),
    "api-attendance-report": Route(),
}
# The routes a kiosk key may use (on its own tenant's host only).
KIOSK_ROUTES = {"api-attendance-kiosk-status", "api-attendance-frames"}
# Cases in tests/tenants/test_websocket.py::test_sockets_are_refused (ws-events)
# and ::test_kiosk_sockets_are_refused (ws-kiosk).
WEBSOCKET_ROUTES = {"ws-events", "ws-kiosk"}


def _named_routes(patterns, namespace=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from _named_routes(pattern.url_patterns, inner)
        elif isinstance(pattern, URLPattern) and pattern.name:
            yield f"{namespace}{pattern.name}"


def test_every_route_has_a_canary_case():
    names = set(_named_routes(get_resolver(TENANT_URLCONF).url_patterns))
    # Admin routes are checked model by model below, from the admin's own registry.
    missing = {name for name in names if not name.startswith("admin:")} - set(ROUTES)
    assert not missing, f"add canary cases for these tenant routes: {sorted(missing)}"
    assert {p.name for p in websocket_urlpatterns} == WEBSOCKET_ROUTES


BETA_MEDIA_NAME = "beta-secret-photo.jpg"
BETA_PERSON_NAME = "Beta Secret Person"


@pytest.fixture
def beta_secrets(alpha, beta):
    """Beta's data with the same ids alpha's would have: media 1, face 1, job 1."""
    folder = Path(settings.MEDIA_ROOT) / beta.schema_name / Path(BETA_MEDIA).parent
    folder.mkdir(parents=True, exist_ok=True)
    (folder / Path(BETA_MEDIA).name).write_bytes(BETA_MEDIA_BYTES)
    with schema_context(beta.schema_name):
        _beta_media_with_a_face()
        _person_with_a_face(BETA_PERSON_NAME)
        _attendance(BETA_GROUP_NAME, BETA_KIOSK_NAME)
    with schema_context(alpha.schema_name):
        _beta_media_with_a_face(name="alpha-photo.jpg")  # alpha has id 1 too
        _person_with_a_face("Alpha Person")  # person 1 exists in both tenants
        _attendance("Alpha Group", "Alpha Kiosk")  # group, kiosk, session, mark 1 too
    return [
        BETA_MEDIA_BYTES,
        beta.owner.email.encode(),
        beta.viewer.email.encode(),
        BETA_MEDIA_NAME.encode(),
        BETA_PERSON_NAME.encode(),
        BETA_GROUP_NAME.encode(),
        BETA_KIOSK_NAME.encode(),
    ]


BETA_GROUP_NAME = "Beta Secret Group"
BETA_KIOSK_NAME = "Beta Secret Kiosk"


def _attendance(group_name: str, kiosk_name: str) -> str:
    """Group, session, kiosk and mark 1 of the current tenant; the kiosk's key."""
    import datetime as dt

    from django.utils import timezone

    from attendance.keys import key_digest, new_key
    from attendance.models import Group, Kiosk, Mark, Session
    from people.models import Person

    group = Group.objects.create(id=1, name=group_name)
    group.members.set([Person.objects.get(pk=1)])
    Session.objects.create(
        id=1, group=group, starts_at=dt.time(9), ends_at=dt.time(10), weekdays=[0, 1, 2, 3, 4]
    )
    key = new_key()
    kiosk = Kiosk.objects.create(
        id=1, name=kiosk_name, key_digest=key_digest(key), key_prefix=key[:8],
        key_issued_at=timezone.now(),
    )  # fmt: skip
    kiosk.groups.set([group])
    now = timezone.now()
    Mark.objects.create(
        id=1, person_id=1, kiosk_id=1, scope="door", at=now, cooldown_until=now, similarity=0.9
    )
    return key


@pytest.fixture
def kiosk_keys(beta_secrets, alpha, beta):
    """A fresh key for kiosk 1 of each tenant (beta_secrets made the kiosks)."""
    from attendance import services
    from attendance.models import Kiosk

    keys = {}
    for setup in (alpha, beta):
        with schema_context(setup.schema_name):
            keys[setup.slug] = services.kiosk_rotate_key(kiosk=Kiosk.objects.get(pk=1))
    return keys


def _person_with_a_face(name: str) -> None:
    from django.utils import timezone

    from media_ingest.models import Face
    from people.models import ClusterFace, EnrolledFace, FaceCluster, FaceLabel, Person
    from recognition.models import FaceModel

    person = Person.objects.create(
        id=1, name=name, consent_basis="consent", consent_recorded_at=timezone.now()
    )
    EnrolledFace.objects.create(
        id=1,
        person=person,
        face_model=FaceModel.objects.get(is_default=True),
        source="upload",
        box=[0, 0, 10, 10],
        quality=0.9,
        crop=BETA_MEDIA,
        embedding=[0.1] * 128,
    )
    FaceLabel.objects.create(face=Face.objects.get(pk=1), person=person, status="confirmed")
    # Cluster 1, of face 1, in both tenants too.
    cluster = FaceCluster.objects.create(
        id=1, face_model=person.faces.get().face_model, size=1, embedding_sum=[0.1] * 128
    )
    ClusterFace.objects.create(face_id=1, cluster=cluster)


def _beta_media_with_a_face(name: str = BETA_MEDIA_NAME) -> None:
    from media_ingest.models import IngestJob
    from recognition.models import FaceModel
    from tests import factories

    # Explicit ids: sequences move on with every rolled-back test, rows do not.
    job = IngestJob.objects.create(id=1, source="api", total_files=1, done_files=1)
    media = factories.media_file(
        id=1,
        job=job,
        source="api",
        original_name=name,
        file=BETA_MEDIA,
        sha256=name.ljust(64, "0")[:64],
        size_bytes=17,
        face_count=1,
        thumbnail=BETA_MEDIA,
    )
    factories.face(
        id=1,
        media=media,
        face_model=FaceModel.objects.get(is_default=True),
        crop=BETA_MEDIA,
        embedding=[0.1] * 128,
    ).save()


def _alpha_credentials(alpha):
    """Alpha owner's session cookie and API token (user id 1, like beta's owner)."""
    session = alpha.client(alpha.owner).cookies["sessionid"].value
    with schema_context(alpha.schema_name):
        _, token = AuthToken.objects.create(alpha.user(alpha.owner))
    return session, token


def _request(client: Client, method: str, path: str, alpha):
    if path.endswith("/auth/token/"):
        # Alpha's e-mail and password, offered to beta.
        body = {"username": alpha.owner.email, "password": alpha.owner.password}
        return client.post(path, body, content_type="application/json")
    return getattr(client, method)(path)


def _assert_no_beta_data(response, secrets, *, public: bool, label: str):
    body = b"".join(response.streaming_content) if response.streaming else response.content
    for secret in secrets:
        assert secret not in body, f"{label}: beta's data leaked"
    if public:
        assert response.status_code < 500, label
    else:
        assert response.status_code in {302, 401, 403, 404}, f"{label}: {response.status_code}"
        if response.status_code == 302:
            assert response["Location"].startswith("/accounts/login/"), label


@pytest.mark.parametrize("name", sorted(ROUTES))
def test_betas_routes_refuse_alphas_session_token_and_anonymous(
    name, alpha, beta, beta_secrets, kiosk_keys
):
    route = ROUTES[name]
    path = reverse(name, kwargs=route.kwargs, urlconf=TENANT_URLCONF)
    session, token = _alpha_credentials(alpha)

    with_session = Client(HTTP_HOST=beta.host)
    with_session.cookies["sessionid"] = session
    clients = {
        "alpha session": with_session,
        "alpha token": Client(HTTP_HOST=beta.host, HTTP_AUTHORIZATION=f"Token {token}"),
        "alpha kiosk key": Client(
            HTTP_HOST=beta.host, HTTP_AUTHORIZATION=f"Kiosk {kiosk_keys['alpha']}"
        ),
        "anonymous": Client(HTTP_HOST=beta.host),
    }
    for label, client in clients.items():
        response = _request(client, route.method, path, alpha)
        _assert_no_beta_data(response, beta_secrets, public=route.public, label=f"{name}/{label}")


@pytest.mark.parametrize("name", sorted(set(ROUTES) - KIOSK_ROUTES))
def test_a_kiosk_key_opens_no_other_route_of_its_own_tenant(name, beta, beta_secrets, kiosk_keys):
    """Beta's own kiosk key, on beta's host: only the kiosk routes answer it."""
    route = ROUTES[name]
    path = reverse(name, kwargs=route.kwargs, urlconf=TENANT_URLCONF)
    client = Client(HTTP_HOST=beta.host, HTTP_AUTHORIZATION=f"Kiosk {kiosk_keys['beta']}")
    response = _request(client, route.method, path, beta)
    secrets = (
        [s for s in beta_secrets if s != BETA_KIOSK_NAME.encode()] if route.public else beta_secrets
    )
    _assert_no_beta_data(response, secrets, public=route.public, label=f"{name}/beta kiosk key")


def test_the_kiosk_key_works_on_its_own_kiosk_routes(beta, beta_secrets, kiosk_keys):
    """Control: beta's key does reach beta's kiosk status."""
    client = Client(HTTP_HOST=beta.host, HTTP_AUTHORIZATION=f"Kiosk {kiosk_keys['beta']}")
    response = client.get(reverse("api-attendance-kiosk-status", urlconf=TENANT_URLCONF))
    assert response.status_code == 200 and response.json()["name"] == BETA_KIOSK_NAME


@pytest.mark.parametrize(
    "name",
    [
        "dashboard",
        "members",
        "protected-media",
        "media-library",
        "media-detail",
        "media-tile",
        "api-activity",
        "api-media-list",
        "api-media-detail",
        "api-face-image",
        "face-browser",
        "people-list",
        "person-detail",
        "api-people",
        "api-person",
        "api-person-appearances",
        "api-person-face-image",
        "cluster-detail",
        "attendance-groups",
        "attendance-group",
        "attendance-kiosks",
        "attendance-marks",
        "api-attendance-groups",
        "api-attendance-group",
        "api-attendance-kiosks",
        "api-attendance-events",
    ],
)
def test_the_canary_can_see_beta_data_when_signed_in_to_beta(name, beta, beta_secrets):
    """Control: the same requests with beta's own owner do find beta's data."""
    path = reverse(name, kwargs=ROUTES[name].kwargs, urlconf=TENANT_URLCONF)
    response = beta.client(beta.owner).get(path)
    assert response.status_code == 200
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert any(secret in body for secret in beta_secrets)


def test_the_canary_sees_betas_thumbnail_when_signed_in_to_beta(beta, beta_secrets):
    """Control for media-thumbnail, whose URL carries the thumbnail's version."""
    from media_ingest.models import MediaFile
    from media_ingest.views import thumbnail_url

    with schema_context(beta.schema_name):
        url = thumbnail_url(MediaFile.objects.get(pk=1))
    response = beta.client(beta.owner).get(url)
    assert response.status_code == 200 and response.content == BETA_MEDIA_BYTES
    assert "immutable" in response["Cache-Control"]


def _admin_paths():
    for model in tenant_admin_site._registry:
        info = (model._meta.app_label, model._meta.model_name)
        yield reverse("admin:{}_{}_changelist".format(*info), urlconf=TENANT_URLCONF)
        yield reverse("admin:{}_{}_change".format(*info), args=[1], urlconf=TENANT_URLCONF)
    yield reverse("admin:index", urlconf=TENANT_URLCONF)


@pytest.mark.parametrize("path", sorted(set(_admin_paths())))
def test_betas_admin_refuses_alphas_staff_session(path, alpha, beta, beta_secrets):
    session, _ = _alpha_credentials(alpha)
    client = Client(HTTP_HOST=beta.host)
    client.cookies["sessionid"] = session
    response = client.get(path)
    body = response.content
    assert response.status_code in {302, 404}, path
    if response.status_code == 302:
        assert "/admin/login/" in response["Location"]
    for secret in beta_secrets:
        assert secret not in body


def test_alphas_owner_cannot_read_betas_user_1_through_the_api(alpha, beta):
    _, token = _alpha_credentials(alpha)
    me = Client(HTTP_HOST=alpha.host, HTTP_AUTHORIZATION=f"Token {token}").get("/api/v1/me/")
    assert me.json()["email"] == alpha.owner.email  # id 1 on alpha is alpha's owner
    assert me.json()["id"] == 1


# --- the admin on tenant hosts: tenant-schema models only ----------------------


def test_every_model_in_a_tenant_hosts_admin_is_a_tenant_model():
    assert tenant_admin_site._registry, "the tenant admin registers the tenant's models"
    shared = [m._meta.label for m in tenant_admin_site._registry if not is_tenant_model(m)]
    assert not shared, f"shared-schema models reachable from tenant hosts: {shared}"


def _shared_admin_paths():
    """Every add, list and change page of the platform's admin for shared-schema models
    (django-q2's schedules and tasks, tenants, the model registry)."""
    for model in admin.site._registry:
        if is_tenant_model(model):
            continue
        info = (model._meta.app_label, model._meta.model_name)
        yield f"/admin/{info[0]}/{info[1]}/"
        yield f"/admin/{info[0]}/{info[1]}/add/"
        yield f"/admin/{info[0]}/{info[1]}/1/change/"


def test_the_platform_admin_registers_django_q_and_the_tenants():
    labels = {m._meta.label for m in admin.site._registry}
    assert {"django_q.Schedule", "django_q.OrmQ", "tenants.Tenant"} <= labels


@pytest.mark.parametrize("path", sorted(set(_shared_admin_paths())))
def test_no_tenant_host_url_reaches_a_shared_schema_row(path, alpha):
    """An owner (is_staff) of alpha, on alpha's own host, cannot list, add or change
    any shared row: these pages do not exist on tenant hosts."""
    client = alpha.client(alpha.owner)
    assert client.get(path).status_code == 404, path
    assert client.post(path, {"func": "os.system", "args": "'id'"}).status_code in {403, 404}


def test_an_owner_cannot_schedule_a_task_from_the_tenant_admin(alpha):
    from django_q.models import Schedule

    before = Schedule.objects.count()
    response = alpha.client(alpha.owner).post(
        "/admin/django_q/schedule/add/",
        {"name": "x", "func": "os.system", "args": "'id'", "schedule_type": "O", "repeats": -1},
    )
    assert response.status_code == 404
    assert Schedule.objects.count() == before

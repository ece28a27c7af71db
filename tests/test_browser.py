"""The portal in a real browser: Debian's Chromium driven by Playwright, against Daphne."""

from __future__ import annotations

import contextlib
import shutil
import threading

import pytest
from django.contrib.sessions.models import Session
from django_tenants.utils import schema_context

from tenants.events import send_event
from tests.browser_support import BROWSER_ARGS, CHROMIUM, sign_in
from tests.conftest import ALPHA, running_web_server

pytestmark = pytest.mark.browser


@pytest.fixture
def live_server_url(committed, test_subprocess_env, tmp_path):
    """The web server on the test database, as `make run` serves the real one."""
    with running_web_server(env=test_subprocess_env, log=tmp_path / "web.log") as port:
        yield f"http://{ALPHA.host}:{port}"
    with schema_context(ALPHA.schema_name):
        Session.objects.all().delete()


@contextlib.contextmanager
def chromium_page(extra_args: list[str] = ()):
    from playwright.sync_api import sync_playwright

    if not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium package")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=[*BROWSER_ARGS, *extra_args]
        )
        try:
            yield browser.new_page()
        finally:
            browser.close()


@pytest.fixture
def page():
    with chromium_page() as new_page:
        yield new_page


def test_sign_in_see_dashboard_and_receive_a_live_event(live_server_url, page):
    page.goto(f"{live_server_url}/")
    assert "/accounts/login/" in page.url

    page.get_by_label("E-mail").fill(ALPHA.owner.email)
    page.get_by_label("Password").fill(ALPHA.owner.password)
    page.get_by_role("button", name="Sign in").click()

    page.get_by_role("heading", name="Alpha Org").wait_for()
    assert page.url == f"{live_server_url}/"
    page.locator("[data-events-status][data-state='open']").wait_for(timeout=30_000)

    # Playwright's sync API owns this thread's event loop: publish from another thread,
    # as a worker process would.
    publisher = threading.Thread(
        target=send_event,
        kwargs={
            "schema_name": ALPHA.schema_name,
            "kind": "test",
            "data": {"message": "Job 7: 3/10 files"},
        },
    )
    publisher.start()
    publisher.join(timeout=30)
    page.get_by_text("Job 7: 3/10 files").wait_for(timeout=30_000)
    assert page.locator("[data-events-empty]").count() == 0


_sign_in = sign_in


PAGES = [
    "/",
    "/library/",
    "/upload/",
    "/faces/",
    "/search/",
    "/search/log/",
    "/members/",
    "/settings/model/",
    "/people/",
    "/people/new/",
    "/people/to-name/",
    "/identify/",
    "/identify/log/",
    "/attendance/",
    "/attendance/kiosk/",
    "/attendance/kiosks/",
    "/attendance/groups/",
    "/attendance/marks/",
    "/attendance/report/",
    "/api/docs/",
    "/admin/",
    "/admin/auth/user/",
    "/no-such-page/",
]


def test_no_page_needs_inline_script_or_styles_the_policy_refuses(live_server_url, page):
    """Every page is served with a Content-Security-Policy that allows no inline
    script, and nothing on them (portal, Swagger UI, the tenant admin) is refused."""
    refused = []
    page.on(
        "console",
        lambda message: (
            refused.append(f"{page.url}: {message.text}")
            if "Content Security Policy" in message.text or "Refused to" in message.text
            else None
        ),
    )
    _sign_in(page, live_server_url, ALPHA.owner)
    for path in PAGES:
        response = page.goto(f"{live_server_url}{path}")
        policy = response.headers.get("content-security-policy", "")
        script_src = next(d for d in policy.split(";") if d.strip().startswith("script-src"))
        assert script_src.strip() == "script-src 'self'", path
        if not path.startswith(("/admin/", "/api/docs/")):  # their inline style attributes
            assert "unsafe-inline" not in policy, path
        page.wait_for_load_state("networkidle")
    page.goto(f"{live_server_url}/api/docs/")
    page.locator(".swagger-ui .information-container").wait_for(timeout=30_000)
    assert not refused, "\n".join(refused)


def test_library_filters_apply_on_change_without_inline_handlers(live_server_url, page):
    _sign_in(page, live_server_url, ALPHA.owner)
    page.goto(f"{live_server_url}/library/")
    page.get_by_label("Kind").select_option("video")
    page.wait_for_url("**/library/?*kind=video*")


def _y4m_of(photo_path, path, *, width=640, height=480, frames=10) -> None:
    """A Y4M clip (what Chromium's fake camera plays) of a photo, centred on grey."""
    import numpy as np
    from PIL import Image

    canvas = Image.new("RGB", (width, height), (128, 128, 128))
    face = Image.open(photo_path).convert("RGB")
    face = face.resize((face.width * 3 // 2, face.height * 3 // 2))
    canvas.paste(face, ((width - face.width) // 2, (height - face.height) // 2))
    rgb = np.asarray(canvas, dtype=np.float32)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    y = 0.299 * r + 0.587 * g + 0.114 * b
    u = (b - y) * 0.564 + 128
    v = (r - y) * 0.713 + 128
    planes = [y, u[::2, ::2], v[::2, ::2]]
    frame = b"".join(np.clip(p, 0, 255).astype(np.uint8).tobytes() for p in planes)
    with open(path, "wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            out.write(b"FRAME\n" + frame)


@pytest.fixture
def alice(committed):
    """A person of alpha, committed for the web server's process."""
    from people import services
    from people.models import Person

    with schema_context(ALPHA.schema_name):
        person = services.person_create(name="Angela Merkel", consent_basis="consent")
    yield person
    with schema_context(ALPHA.schema_name):
        for leftover in Person.objects.all():
            services.person_delete(person=leftover)
        from people.models import IdentifyAudit

        IdentifyAudit.objects.all().delete()
    from django_q.models import OrmQ

    OrmQ.objects.all().delete()


def test_enrol_from_the_webcam_then_identify(live_server_url, alice, tmp_path):
    from tests.media_ingest.conftest import shared_file
    from tests.people.conftest import ALICE

    clip = tmp_path / "camera.y4m"
    _y4m_of(shared_file("identities", ALICE, f"{ALICE}_0001.jpg"), clip)
    camera = [
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={clip}",
    ]
    with chromium_page(camera) as page:
        _sign_in(page, live_server_url, ALPHA.owner)
        page.goto(f"{live_server_url}/people/{alice.pk}/")
        page.get_by_role("button", name="Use the camera").click()
        page.get_by_role("button", name="Take 3 shots").click()
        status = page.locator("[data-webcam-status]")
        page.wait_for_function(
            "el => el.textContent.includes('shots enrolled')",
            arg=status.element_handle(),
            timeout=120_000,
        )
        assert status.inner_text().startswith("3 of 3 shots enrolled."), status.inner_text()
        page.get_by_role("heading", name="Enrolled faces (3)").wait_for(timeout=120_000)

        page.goto(f"{live_server_url}/identify/")
        page.get_by_role("button", name="Use the camera").click()
        page.get_by_role("button", name="Identify this shot").click()
        named = page.locator("[data-identify-faces] li strong")
        named.first.wait_for(timeout=120_000)
        assert named.first.inner_text().startswith("Angela Merkel")
        assert page.locator(".face-box .face-name").first.inner_text() == "Angela Merkel"


@pytest.fixture
def unknown_cluster(committed):
    """Three unnamed faces of one person in a cluster, committed for the server."""
    import numpy as np

    from media_ingest.models import MediaFile
    from people.discovery.placement import place_faces
    from people.models import Person
    from recognition.models import FaceModel
    from tests import factories

    model = FaceModel.objects.get(is_default=True)
    look = np.random.default_rng(3).normal(size=128)
    with schema_context(ALPHA.schema_name):
        faces = []
        for n in range(3):
            vector = look + np.random.default_rng(n).normal(size=128) * 0.01
            face = factories.face(
                media=factories.media_file(original_name=f"unknown-{n}.jpg"),
                face_model=model,
                embedding=(vector / np.linalg.norm(vector)).astype(np.float32),
            )
            face.save()
            faces.append(face.pk)
        place_faces(faces, model)
    yield faces
    with schema_context(ALPHA.schema_name):
        MediaFile.objects.filter(faces__pk__in=faces).delete()
        Person.objects.all().delete()
    from django_q.models import OrmQ

    OrmQ.objects.all().delete()


def test_name_a_cluster_of_unknown_faces(live_server_url, unknown_cluster, page):
    _sign_in(page, live_server_url, ALPHA.owner)
    page.goto(f"{live_server_url}/people/to-name/")
    page.get_by_role("heading", name="3 faces").wait_for()
    page.get_by_role("link", name="Name or edit").click()
    page.get_by_label("Name", exact=True).fill("Grace Hopper")
    page.get_by_label("Consent basis").select_option("consent")
    page.get_by_role("button", name="Name them").click()
    page.get_by_role("heading", name="Grace Hopper").wait_for()
    assert "Appearances (3)" in page.content()
    page.goto(f"{live_server_url}/people/to-name/")
    page.get_by_role("heading", name="Nobody to name yet").wait_for()


@pytest.fixture
def alice_enrolled(alice):
    """Alice with two photos in her gallery, and a door-log kiosk's key."""
    from attendance import services as attendance
    from attendance.models import Kiosk, Mark
    from people import services
    from tests.people.conftest import ALICE, photo, upload

    with schema_context(ALPHA.schema_name):
        for number in (1, 2):
            services.enrol_from_photo(person=alice, photo=upload(photo(ALICE, number)))
        _, key = attendance.kiosk_create(name="Front door", location="Hall")
    yield key
    with schema_context(ALPHA.schema_name):
        Mark.objects.all().delete()
        Kiosk.objects.all().delete()


def _camera(photo_path, tmp_path) -> list[str]:
    clip = tmp_path / "camera.y4m"
    _y4m_of(photo_path, clip)
    return [
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={clip}",
    ]


def test_the_kiosk_welcomes_an_enrolled_person_and_the_wall_updates(
    live_server_url, alice_enrolled, tmp_path
):
    from tests.media_ingest.conftest import shared_file
    from tests.people.conftest import ALICE

    camera = _camera(shared_file("identities", ALICE, f"{ALICE}_0004.jpg"), tmp_path)
    with chromium_page(camera) as wall:
        _sign_in(wall, live_server_url, ALPHA.owner)
        wall.goto(f"{live_server_url}/attendance/")
        wall.locator("[data-events-status][data-state='open']").wait_for(timeout=30_000)
        assert wall.locator("[data-wall-person]").count() == 0

        kiosk = wall.context.browser.new_page()  # its own context: not signed in
        kiosk.goto(f"{live_server_url}/attendance/kiosk/#key={alice_enrolled}")
        kiosk.get_by_role("heading", name="Front door").wait_for(timeout=30_000)
        message = kiosk.locator("[data-kiosk-message]")
        kiosk.wait_for_function(
            "el => el.textContent.startsWith('Welcome, Angela Merkel')",
            arg=message.element_handle(),
            timeout=120_000,
        )
        assert kiosk.locator(".face-box .face-name").first.inner_text() == "Angela Merkel"
        # The next frames answer "already marked": one mark, however many frames.
        kiosk.wait_for_function(
            "el => el.textContent.startsWith('Already marked')",
            arg=message.element_handle(),
            timeout=60_000,
        )
        tile = wall.locator("[data-wall-person][data-status='present']")
        tile.first.wait_for(timeout=60_000)
        assert "Angela Merkel" in tile.first.inner_text()
    from attendance.models import Mark

    with schema_context(ALPHA.schema_name):
        assert Mark.objects.count() == 1


def test_the_kiosk_says_a_stranger_is_not_recognised(live_server_url, alice_enrolled, tmp_path):
    from tests.media_ingest.conftest import shared_file
    from tests.people.conftest import STRANGER

    camera = _camera(shared_file("identities", STRANGER, f"{STRANGER}_0001.jpg"), tmp_path)
    with chromium_page(camera) as kiosk:
        kiosk.goto(f"{live_server_url}/attendance/kiosk/")
        kiosk.get_by_label("Kiosk key").fill(alice_enrolled)
        kiosk.get_by_role("button", name="Start").click()
        message = kiosk.locator("[data-kiosk-message]")
        kiosk.wait_for_function(
            "el => el.textContent.startsWith('Not recognised')",
            arg=message.element_handle(),
            timeout=120_000,
        )
        assert kiosk.locator(".face-box.unknown").count() >= 1

"""Every portal page in Chromium, as a phone and as a desktop shows it.

At 390 px no page may scroll sideways (a screenshot of each is kept under the
test's tmp_path, to look at); at desktop width axe-core finds no serious or
critical accessibility violation on any. The shell's menu button works with the
keyboard. One web server, one browser and one set of data serve the module.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from tests.browser_support import BROWSER_ARGS, CHROMIUM, sign_in
from tests.conftest import ALPHA, running_web_server

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}
# Names as people's files and phones make them: long, without spaces.
LONG_NAME = "IMG_20240612_183512_HDR_portrait_from_the_school_trip_to_the_museum.jpg"


@dataclass(frozen=True)
class Ids:
    photo: int
    video: int
    failed: int
    person: int
    cluster: int
    group: int


def _save(name: str, data: bytes) -> str:
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    return default_storage.save(name, ContentFile(data))


def _portal_data() -> Ids:
    """A photo with a face, a video with a track, a failed file, a person with an
    enrolled face, a cluster to name, a kiosk, a group and a mark. In alpha."""
    import datetime as dt
    import io

    import numpy as np
    from django.utils import timezone
    from PIL import Image

    from attendance import services as attendance
    from attendance.models import Mark
    from media_ingest.models import FaceTrack
    from people import services as people
    from people.discovery.placement import place_faces
    from people.models import EnrolledFace, FaceCluster
    from recognition.models import FaceModel
    from tests import factories
    from tests.media_ingest.conftest import shared_file, video_path
    from tests.people.conftest import ALICE

    model = FaceModel.objects.get(is_default=True)
    photo_bytes = shared_file("identities", ALICE, f"{ALICE}_0001.jpg").read_bytes()
    image = Image.open(io.BytesIO(photo_bytes))
    crop = io.BytesIO()
    image.crop((70, 60, 180, 170)).save(crop, "JPEG")
    original = _save("originals/portal-pages/photo.jpg", photo_bytes)
    crop_path = _save("crops/portal-pages/face.jpg", crop.getvalue())
    rng = np.random.default_rng(11)

    def vector(base, noise=0.01):
        v = base + rng.normal(size=128) * noise
        return (v / np.linalg.norm(v)).astype(np.float32)

    photo = factories.media_file(
        original_name=LONG_NAME,
        file=original,
        thumbnail=original,
        width=image.width,
        height=image.height,
        face_count=1,
        face_model=model,
        processed_at=timezone.now(),
    )
    factories.face(
        media=photo,
        face_model=model,
        embedding=vector(rng.normal(size=128)),
        crop=crop_path,
        box_left=70,
        box_top=60,
        box_right=180,
        box_bottom=170,
    ).save()

    clip = _save("originals/portal-pages/clip.mp4", video_path().read_bytes())
    video = factories.media_file(
        kind="video",
        mime="video/mp4",
        original_name="facerec_short_hamilton_clip.mp4",
        file=clip,
        width=640,
        height=360,
        duration_s=8.2,
        face_count=1,
        face_model=model,
    )
    track = FaceTrack.objects.create(
        media=video, ordinal=0, first_time_s=0.8, last_time_s=7.9, frame_count=15
    )
    factories.face(
        media=video,
        face_model=model,
        embedding=vector(rng.normal(size=128)),
        crop=crop_path,
        track=track,
        frame_time_s=1.2,
    ).save()
    failed = factories.media_file(
        kind="video",
        mime="video/mp4",
        original_name="broken-" + LONG_NAME.replace(".jpg", ".mp4"),
        status="failed",
        error_code="video-crashed",
        error="The video could not be decoded. Convert it to H.264 (MP4) and upload it again.",
    )

    person = people.person_create(
        name="Maria Magdalena Anastasia Wilhelmina von Hohenzollern-Sigmaringen",
        consent_basis="consent",
    )
    enrolled = EnrolledFace.objects.create(
        person=person,
        face_model=model,
        source="upload",
        box=[70, 60, 180, 170],
        quality=0.9,
        crop=crop_path,
        embedding=vector(rng.normal(size=128)),
    )
    person.photo = enrolled
    person.save(update_fields=["photo"])

    look = rng.normal(size=128)
    unknown = []
    for n in range(3):
        face = factories.face(
            media=factories.media_file(original_name=f"unknown-{n}-{LONG_NAME}", file=original),
            face_model=model,
            embedding=vector(look),
            crop=crop_path,
        )
        face.save()
        unknown.append(face.pk)
    place_faces(unknown, model)

    group = attendance.group_create(name="Year 9 · Morning registration", members=[person])
    attendance.session_create(
        group=group, starts_at=dt.time(8, 30), ends_at=dt.time(9, 15), weekdays=[0, 1, 2, 3, 4]
    )
    kiosk, _ = attendance.kiosk_create(name="Front door", location="Main hall", groups=[group])
    now = timezone.now()
    Mark.objects.create(
        person=person, kiosk=kiosk, scope="door", at=now, cooldown_until=now, similarity=0.93
    )
    return Ids(
        photo=photo.pk,
        video=video.pk,
        failed=failed.pk,
        person=person.pk,
        cluster=FaceCluster.objects.order_by("pk").values_list("pk", flat=True).first(),
        group=group.pk,
    )


def _remove_portal_data() -> None:
    from django.contrib.admin.models import LogEntry
    from django.contrib.auth import get_user_model
    from django.contrib.sessions.models import Session

    from attendance.models import Group, Kiosk, Mark
    from media_ingest.models import MediaFile
    from people.models import IdentifyAudit, Person
    from search.models import SearchAudit

    Mark.objects.all().delete()
    Kiosk.objects.all().delete()
    Group.objects.all().delete()
    for model in (Person, MediaFile, IdentifyAudit, SearchAudit, LogEntry, Session):
        model.objects.all().delete()
    # Members the tests added (the copy button's); the canary's two stay.
    get_user_model().objects.exclude(username__in=[ALPHA.owner.email, ALPHA.viewer.email]).delete()


@pytest.fixture(scope="module")
def portal(django_db_setup, django_db_blocker, tmp_path_factory):
    """The web server (as `make run` serves it) on alpha with every kind of page's data."""
    from django_q.models import OrmQ

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "FACET_TEST_SUBPROCESS": "1",
        "PYTHONUNBUFFERED": "1",
    }
    log = tmp_path_factory.mktemp("portal-pages") / "web.log"
    with django_db_blocker.unblock():
        last_task = OrmQ.objects.order_by("-id").values_list("id", flat=True).first() or 0
        with schema_context(ALPHA.schema_name):
            ids = _portal_data()
        try:
            with running_web_server(env=env, log=log) as port:
                yield f"http://{ALPHA.host}:{port}", ids
        finally:
            with schema_context(ALPHA.schema_name):
                _remove_portal_data()
            connection.set_schema_to_public()
            OrmQ.objects.filter(id__gt=last_task).delete()


@pytest.fixture(scope="module")
def browser(portal):  # after the server: its data is removed once the browser is gone
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=BROWSER_ARGS
        )
        yield chromium
        chromium.close()


def _signed_in(browser, base_url, account):
    page = browser.new_context(viewport=DESKTOP).new_page()
    sign_in(page, base_url, account)
    return page


@pytest.fixture(scope="module")
def owner(browser, portal):
    """The owner's tab; each test sets the width it looks at."""
    page = _signed_in(browser, portal[0], ALPHA.owner)
    yield page
    page.context.close()


@pytest.fixture(scope="module")
def viewer(browser, portal):
    """A viewer's tab: the 403 page is theirs."""
    page = _signed_in(browser, portal[0], ALPHA.viewer)
    yield page
    page.context.close()


@pytest.fixture
def phone(owner):
    owner.set_viewport_size(PHONE)
    return owner


@pytest.fixture
def desktop(owner):
    owner.set_viewport_size(DESKTOP)
    return owner


# Every page of the portal: (name, path; {ids} filled from the module's data).
PAGES = [
    ("dashboard", "/"),
    ("library", "/library/"),
    ("library-filtered-empty", "/library/?kind=video&status=queued"),
    ("media-photo", "/library/{photo}/"),
    ("media-video", "/library/{video}/"),
    ("media-failed", "/library/{failed}/"),
    ("faces", "/faces/"),
    ("upload", "/upload/"),
    ("search", "/search/"),
    ("search-log", "/search/log/"),
    ("people", "/people/"),
    ("person-new", "/people/new/"),
    ("person", "/people/{person}/"),
    ("person-edit", "/people/{person}/edit/"),
    ("people-threshold", "/people/threshold/"),
    ("people-to-name", "/people/to-name/"),
    ("cluster", "/people/to-name/{cluster}/"),
    ("identify", "/identify/"),
    ("identify-log", "/identify/log/"),
    ("attendance-wall", "/attendance/"),
    ("attendance-kiosk", "/attendance/kiosk/"),
    ("attendance-kiosks", "/attendance/kiosks/"),
    ("attendance-groups", "/attendance/groups/"),
    ("attendance-group", "/attendance/groups/{group}/"),
    ("attendance-marks", "/attendance/marks/"),
    ("attendance-report", "/attendance/report/"),
    ("members", "/members/"),
    ("model", "/settings/model/"),
    ("not-found", "/no-such-page/"),
    ("forbidden", "/members/"),  # as a viewer
]


def _visit(page, base_url, path, ids):
    # "load": images and scripts are in; no page fetches more until an event comes.
    return page.goto(base_url + path.format(**vars(ids)), wait_until="load")


def _page_for(name, viewport, owner, viewer):
    page = viewer if name == "forbidden" else owner
    page.set_viewport_size(viewport)
    return page


SIDEWAYS = """() => {
  const width = window.innerWidth;
  const wide = [...document.querySelectorAll("body *")]
    .filter((el) => el.getBoundingClientRect().right > width + 1)
    .filter((el) => !el.closest("table, .table-scroll, [data-scroll-box]"))
    .slice(0, 5)
    .map((el) => el.tagName.toLowerCase() + (el.className ? "." + el.className : ""));
  return {scroll: document.documentElement.scrollWidth, width, wide};
}"""


@pytest.mark.parametrize(("name", "path"), PAGES, ids=[name for name, _ in PAGES])
def test_no_page_scrolls_sideways_on_a_phone(name, path, portal, owner, viewer, tmp_path):
    base_url, ids = portal
    page = _page_for(name, PHONE, owner, viewer)
    response = _visit(page, base_url, path, ids)
    expected = {"not-found": 404, "forbidden": 403}.get(name, 200)
    assert response.status == expected, f"{path}: {response.status}"
    page.screenshot(path=tmp_path / f"phone-{name}.png", full_page=True)
    measured = page.evaluate(SIDEWAYS)
    assert measured["scroll"] <= measured["width"], f"{path} at 390 px: {measured}"
    if name not in {"attendance-kiosk"}:  # the kiosk is a full-screen page of its own
        # The shell is there (the 403 and 404 pages too), its menu closed on a phone.
        assert page.get_by_role("button", name="Menu").is_visible(), path
        assert not page.get_by_role("button", name="Sign out").is_visible(), path


def _serious(results: dict) -> list[str]:
    found = []
    for violation in results["violations"]:
        if violation["impact"] in {"serious", "critical"}:
            targets = [", ".join(node["target"]) for node in violation["nodes"][:3]]
            found.append(
                f"{violation['id']} ({violation['impact']}): {violation['help']} {targets}"
            )
    return found


@pytest.mark.parametrize(("name", "path"), PAGES, ids=[name for name, _ in PAGES])
def test_axe_finds_nothing_serious_on_any_page(name, path, portal, owner, viewer):
    from axe_playwright_python.sync_playwright import Axe

    base_url, ids = portal
    page = _page_for(name, DESKTOP, owner, viewer)
    _visit(page, base_url, path, ids)
    results = Axe().run(page).response
    serious = _serious(results)
    assert not serious, f"{path}:\n" + "\n".join(serious)


def test_the_sign_in_page_fits_a_phone_and_passes_axe(browser, portal, tmp_path):
    from axe_playwright_python.sync_playwright import Axe

    context = browser.new_context(viewport=PHONE)
    try:
        page = context.new_page()
        page.goto(f"{portal[0]}/accounts/login/")
        page.get_by_label("E-mail").fill(ALPHA.owner.email)
        page.get_by_label("Password").fill("not the password")
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("alert").wait_for()
        assert "e-mail address and password do not match" in page.get_by_role("alert").inner_text()
        page.screenshot(path=tmp_path / "phone-sign-in.png", full_page=True)
        measured = page.evaluate(SIDEWAYS)
        assert measured["scroll"] <= measured["width"], measured
        assert not _serious(Axe().run(page).response)
    finally:
        context.close()


def test_the_menu_opens_and_closes_from_the_keyboard_on_a_phone(portal, phone, tmp_path):
    base_url, ids = portal
    _visit(phone, base_url, "/library/", ids)
    button = phone.get_by_role("button", name="Menu")
    sign_out = phone.get_by_role("button", name="Sign out")
    assert button.get_attribute("aria-expanded") == "false"
    assert not sign_out.is_visible()

    button.focus()
    phone.keyboard.press("Enter")
    assert button.get_attribute("aria-expanded") == "true"
    assert sign_out.is_visible()
    nav = phone.get_by_role("navigation", name="Main")
    assert nav.get_by_role("link", name="Library").get_attribute("aria-current") == "page"
    # Opening moves focus into the menu; every entry fits the screen.
    assert phone.evaluate("document.activeElement.closest('#site-menu') !== null")
    for box in [nav.get_by_role("link").nth(i).bounding_box() for i in range(3)] + [
        sign_out.bounding_box()
    ]:
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
    phone.screenshot(path=tmp_path / "phone-menu-open.png", full_page=True)
    measured = phone.evaluate(SIDEWAYS)
    assert measured["scroll"] <= measured["width"], measured
    from axe_playwright_python.sync_playwright import Axe

    assert not _serious(Axe().run(phone).response)  # the open menu too

    phone.keyboard.press("Escape")
    assert button.get_attribute("aria-expanded") == "false"
    assert not sign_out.is_visible()
    assert phone.evaluate("document.activeElement.dataset.menuToggle !== undefined")

    nav_link = nav.get_by_role("link", name="Faces")
    button.click()
    nav_link.click()
    phone.wait_for_url("**/faces/")


def test_the_desktop_shows_the_navigation_without_a_menu_button(portal, desktop):
    base_url, ids = portal
    _visit(desktop, base_url, "/", ids)
    assert not desktop.get_by_role("button", name="Menu").is_visible()
    assert desktop.get_by_role("button", name="Sign out").is_visible()
    nav = desktop.get_by_role("navigation", name="Main")
    assert nav.get_by_role("link", name="Members").is_visible()
    measured = desktop.evaluate(SIDEWAYS)
    assert measured["scroll"] <= measured["width"], measured


def test_the_one_time_password_is_copied_with_its_button(portal, desktop):
    base_url, ids = portal
    desktop.context.grant_permissions(["clipboard-read", "clipboard-write"])
    _visit(desktop, base_url, "/members/", ids)
    form = desktop.locator("form", has=desktop.get_by_role("button", name="Add member"))
    form.get_by_label("E-mail").fill("copy.me@alpha.test")
    assert form.get_by_label("Role").input_value() == "viewer"
    form.get_by_role("button", name="Add member").click()
    password = desktop.locator("#one-time-password").inner_text()
    desktop.get_by_role("button", name="Copy password").click()
    desktop.get_by_role("button", name="Copied").wait_for()
    assert desktop.evaluate("navigator.clipboard.readText()") == password


def test_error_pages_keep_the_shell_and_the_member_signed_in(portal, desktop, viewer):
    """Under ASGI the error page is made in another thread: it once rendered in the
    public schema, without the navigation, and its empty session signed the member out."""
    base_url, ids = portal
    for page, path, status in (
        (desktop, "/no-such-page/", 404),
        (desktop, "/library/999999/", 404),
        (_page_for("forbidden", DESKTOP, desktop, viewer), "/members/", 403),
    ):
        assert _visit(page, base_url, path, ids).status == status
        nav = page.get_by_role("navigation", name="Main")
        assert nav.get_by_role("link", name="Library").is_visible(), path
        assert page.get_by_role("button", name="Sign out").is_visible(), path
        assert _visit(page, base_url, "/library/", ids).url.endswith("/library/"), path

"""Part B of the portal's first-use fixes, in Chromium: search that shows its
answer, the video timeline in lanes, the library on a phone, the upload rows,
the dashboard's live counts. One web server, one browser and one catalogue
(real photos, processed once) for the whole module."""

from __future__ import annotations

import io
import itertools
import os
import re
import threading
import zipfile

import numpy as np
import pytest
from django.contrib.sessions.models import Session
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django_tenants.utils import schema_context
from PIL import Image

from tests.conftest import ALPHA, run_queued_tasks, running_web_server
from tests.media_ingest.conftest import HAMILTON, shared_file, video_path
from tests.test_browser import BROWSER_ARGS, CHROMIUM

pytestmark = pytest.mark.browser

GROUP = ("groups", "facerec_obama_and_biden.jpg")
PHOTOS = [
    ("identities", "Barack_Obama", "facerec_obama1.jpg"),
    ("identities", "Barack_Obama", "facerec_obama2.jpg"),
    ("identities", "Joseph_Biden", "Joseph_Biden_0001.jpg"),
    ("identities", "Edmund_Stoiber", "Edmund_Stoiber_0001.jpg"),
    ("identities", "Elijah_Wood", "Elijah_Wood_0001.jpg"),
]
# Nine tracks in a 10 s clip, overlapping as fnp_video.mp4's do; 0.8-1.3 s and
# 3.8-7.9 s are one person (as in the Hamilton clip), the others strangers.
SPANS = [
    (0.0, 3.5), (0.3, 1.0), (0.5, 4.0), (1.0, 1.4), (2.0, 6.0),
    (3.8, 7.9), (0.8, 1.3), (6.0, 9.9), (9.5, 10.0),
]  # fmt: skip
SAME_PERSON = {5, 6}


def _in_thread(target, *args, **kwargs):
    """Playwright's sync API owns this thread's event loop: channel-layer sends
    (events, processing that publishes them) run in another thread."""
    errors = []

    def run():
        try:
            target(*args, **kwargs)
        except Exception as exc:  # re-raised below, in the test's thread
            errors.append(exc)
        finally:
            connection.close()

    worker = threading.Thread(target=run)
    worker.start()
    worker.join(timeout=120)
    if errors:
        raise errors[0]


def _db(query):
    """``query()`` inside alpha's schema, run off Playwright's thread (Django
    refuses database calls in a thread with a running event loop)."""
    out = []

    def run():
        with schema_context(ALPHA.schema_name):
            out.append(query())

    _in_thread(run)
    return out[0]


@pytest.fixture(scope="module")
def module_db(django_db_setup, django_db_blocker):
    from django_q.models import OrmQ

    with django_db_blocker.unblock():
        last_task = OrmQ.objects.order_by("-id").values_list("id", flat=True).first() or 0
        yield
        connection.set_schema_to_public()
        OrmQ.objects.filter(id__gt=last_task).delete()


def _ingest(name: str, data: bytes) -> int:
    from media_ingest import services
    from media_ingest.models import Source
    from tenants.tasks import run_tenant_task

    with schema_context(ALPHA.schema_name):
        job = services.job_create(source=Source.WEB)
        media = services.media_accept(
            stream=io.BytesIO(data), name=name, source=Source.WEB, job=job
        ).media
    run_tenant_task(ALPHA.schema_name, "media_ingest.tasks.process_media", media.pk)
    return media.pk


def _crop_jpeg(shade: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 64), (shade, 90, 160)).save(out, format="JPEG")
    return out.getvalue()


def _video_with_tracks() -> int:
    """The Hamilton clip's bytes as a video file with nine crafted tracks."""
    import hashlib

    from media_ingest.models import Face, FaceTrack, MediaFile
    from recognition.models import FaceModel

    data = video_path(HAMILTON).read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    model = FaceModel.objects.get(is_default=True)
    with schema_context(ALPHA.schema_name):
        name = f"originals/{sha[:2]}/{sha}.mp4"
        if not default_storage.exists(name):
            default_storage.save(name, ContentFile(data))
        media = MediaFile.objects.create(
            kind="video", source="web", original_name="crowd.mp4", file=name, sha256=sha,
            mime="video/mp4", size_bytes=len(data), width=640, height=360, duration_s=10.0,
            status="done", face_count=len(SPANS),
        )  # fmt: skip
        rng = np.random.default_rng(11)
        person = rng.standard_normal(128)
        for ordinal, (first, last) in enumerate(SPANS):
            vector = person + 0.02 * rng.standard_normal(128)
            if ordinal not in SAME_PERSON:
                vector = rng.standard_normal(128)
            track = FaceTrack.objects.create(
                media=media, ordinal=ordinal, first_time_s=first, last_time_s=last, frame_count=4
            )
            crop = f"faces/{media.pk}/{ordinal}.jpg"
            default_storage.save(crop, ContentFile(_crop_jpeg(20 * ordinal)))
            Face.objects.create(
                media=media, ordinal=ordinal, track=track, face_model=model,
                box_left=0, box_top=0, box_right=10, box_bottom=10, landmarks=[],
                quality=0.9, detector_score=1.0, frame_time_s=(first + last) / 2, crop=crop,
                embedding=(vector / np.linalg.norm(vector)).astype(np.float32),
            )  # fmt: skip
    return media.pk


@pytest.fixture(scope="module")
def catalogue(module_db):
    """Alpha's library: a group photo, five portraits, a video with nine tracks."""
    from media_ingest import services
    from media_ingest.models import IngestJob, MediaFile
    from search.models import SearchAudit

    media = {"group": _ingest(GROUP[1], shared_file(*GROUP).read_bytes())}
    for parts in PHOTOS:
        media[parts[-1]] = _ingest(parts[-1], shared_file(*parts).read_bytes())
    media["video"] = _video_with_tracks()
    yield media
    with schema_context(ALPHA.schema_name):
        for item in MediaFile.objects.all():
            services.media_delete(media=item)
        IngestJob.objects.all().delete()
        SearchAudit.objects.all().delete()
        Session.objects.all().delete()


@pytest.fixture(scope="module")
def server(module_db, tmp_path_factory):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "FACET_TEST_SUBPROCESS": "1",
        "PYTHONUNBUFFERED": "1",
    }
    log = tmp_path_factory.mktemp("web") / "web.log"
    with running_web_server(env=env, log=log) as port:
        yield f"http://{ALPHA.host}:{port}"


@pytest.fixture(scope="module")
def browser(catalogue, server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=BROWSER_ARGS
        )
        # Sign in once; every test gets a fresh context with the session.
        page = chromium.new_page()
        page.goto(f"{server}/accounts/login/")
        page.get_by_label("E-mail").fill(ALPHA.owner.email)
        page.get_by_label("Password").fill(ALPHA.owner.password)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("heading", name="Alpha Org").wait_for()
        state = page.context.storage_state()
        page.close()
        chromium.facet_state = state
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(storage_state=browser.facet_state, base_url=server)
    # Under Daphne a 404 page is rendered in a thread whose connection is not in
    # the tenant's schema: the session is not found there and its cookie is
    # deleted (signed out). Chromium asks for /favicon.ico on every page, and the
    # portal has none yet: answer it here so that the tests stay signed in.
    context.route("**/favicon.ico", lambda route: route.fulfill(status=204))
    errors = []
    new_page = context.new_page()
    new_page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield new_page
    context.close()
    assert not errors, errors


def _assert_lanes_apart(page, lanes: str) -> None:
    for lane in page.locator(lanes).all():
        rects = sorted(
            (b.bounding_box() for b in lane.locator(".track").all()), key=lambda r: r["x"]
        )
        for left, right in itertools.pairwise(rects):
            assert left["x"] + left["width"] <= right["x"] + 0.5, "bars in one lane overlap"


def _boxes(page, selector: str) -> list[dict]:
    return [handle.bounding_box() for handle in page.query_selector_all(selector)]


def test_search_shows_the_query_its_faces_and_filters_live(page, catalogue, tmp_path):
    searches = []
    page.on("request", lambda r: searches.append(r) if r.url.endswith("/api/v1/search/") else None)
    page.goto("/search/")
    page.set_input_files("[data-image-input]", str(shared_file(*GROUP)))
    title = page.locator("[data-results-title]")
    title.wait_for(timeout=60_000)
    page.wait_for_function("() => document.querySelector('[data-results-title]').textContent")

    # The query photo, with the searched face boxed inside it.
    photo = page.locator("[data-query-image]").bounding_box()
    box = page.locator("[data-query-box]").bounding_box()
    assert box["width"] > 10 and box["height"] > 10
    assert photo["x"] <= box["x"] and box["x"] + box["width"] <= photo["x"] + photo["width"] + 1
    # A group photo: a crop of each face to pick from, the searched one pressed.
    picks = page.locator(".query-face")
    assert picks.count() >= 2 and page.locator(".query-face canvas").count() == picks.count()
    assert page.locator(".query-face[aria-pressed='true']").count() == 1
    # The file searched with is in the library: its own face is marked.
    first = page.locator(".results .result").first
    assert first.locator(".this-face").inner_text() == "this face"
    # Each result's similarity is visible, whole, inside its crop's corner.
    for item in page.locator(".results .result").all():
        score = item.locator(".similarity")
        assert re.fullmatch(r"-?\d\.\d\d", score.inner_text()), score.inner_text()
        assert score.is_visible() and score.evaluate("e => e.scrollWidth <= e.clientWidth")
    page.screenshot(path=tmp_path / "search-threshold.png", full_page=True)

    # The slider filters what was fetched, in the page: no new request.
    asked = len(searches)
    shown = page.locator(".results .result").count()
    page.locator("[data-threshold]").fill("0")
    page.wait_for_function(f"() => document.querySelectorAll('.results .result').length > {shown}")
    assert "similarity ≥ 0.00" in title.inner_text()
    assert page.locator("[data-threshold-value]").inner_text() == "0.00"
    assert page.locator(".match-divider").count() == 1
    assert len(searches) == asked
    above = page.locator(".results .result.above").count()
    below = page.locator(".results .result.below").count()
    assert above >= 1 and below >= 1
    # The crafted video's nine tracks all show at 0.00: in lanes, never on top of each other.
    assert page.locator(".search-timeline .lane").count() > 1
    _assert_lanes_apart(page, ".search-timeline .lane")
    page.screenshot(path=tmp_path / "search-all.png", full_page=True)

    # Picking the other face searches again, for it.
    pressed = page.evaluate(
        "() => [...document.querySelectorAll('.query-face')]"
        ".findIndex(b => b.getAttribute('aria-pressed') === 'true')"
    )
    page.locator(".query-face[aria-pressed='false']").first.click()
    page.wait_for_function(
        f"() => document.querySelectorAll('.query-face')[{pressed}]"
        "?.getAttribute('aria-pressed') === 'false'",
        timeout=60_000,
    )
    assert len(searches) == asked + 1


def test_the_video_timeline_has_lanes_an_axis_and_a_playhead(page, catalogue, tmp_path):
    page.goto(f"/library/{catalogue['video']}/")
    page.locator("[data-timeline] .track").first.wait_for()
    timeline = page.locator("[data-timeline]").bounding_box()
    bars = page.locator("[data-timeline] .track")
    assert bars.count() == len(SPANS)
    # Joined: the two tracks of one face share a lane, with a line between them.
    assert page.locator("[data-timeline] .join").count() == 1
    assert page.locator("[data-lane]").count() < len(SPANS)
    _assert_lanes_apart(page, "[data-lane]")
    for rect in _boxes(page, "[data-timeline] .track"):
        assert timeline["x"] - 0.5 <= rect["x"]
        assert rect["x"] + rect["width"] <= timeline["x"] + timeline["width"] + 0.5, "spills"
    # Every bar has its label: in it, beside it, or (no room) in its tooltip and the list.
    for bar in bars.all():
        title = bar.get_attribute("title")
        assert re.search(r"\d+\.\d\N{EN DASH}\d+\.\d s", title), title
        label = bar.locator(".track-label")
        if "label-none" not in bar.get_attribute("class"):
            assert label.is_visible()
            assert label.evaluate("e => e.scrollWidth <= e.clientWidth + 1"), label.inner_text()
    assert "0.8\N{EN DASH}1.3 s" in page.locator(".timeline-legend").inner_text()
    assert page.locator(".timeline-axis .tick").count() >= 4
    page.screenshot(path=tmp_path / "timeline.png", full_page=True)

    # The playhead follows the player: a click on a bar plays from its start.
    playhead = page.locator("[data-playhead]")
    start = playhead.bounding_box()["x"]
    page.locator("[data-timeline] .track[data-start^='3.8']").click()
    page.wait_for_function("() => document.querySelector('[data-player]').currentTime >= 3.8")
    page.wait_for_function(
        f"() => document.querySelector('[data-playhead]').getBoundingClientRect().x > {start + 50}"
    )
    assert page.locator("[data-timeline] .track.current").count() >= 1

    # A crop of a video face on the Faces page opens the video at its moment.
    page.goto("/faces/")
    link = page.locator(f"a[href^='/library/{catalogue['video']}/?t=']").first
    moment = float(link.get_attribute("href").split("?t=")[1])
    assert page.locator(".crops img:not([loading='lazy'])").count() == 0
    link.click()
    page.wait_for_function(
        f"() => Math.abs(document.querySelector('[data-player]').currentTime - {moment}) < 0.2"
    )


def test_the_library_on_a_phone_small_tiles_no_sideways_scroll(page, catalogue, tmp_path):
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/library/")
    grid = page.locator("[data-media-grid]")
    grid.wait_for()
    assert grid.evaluate("e => e.scrollWidth <= e.clientWidth")
    assert grid.bounding_box()["x"] + grid.bounding_box()["width"] <= 390
    widths = [r["width"] for r in _boxes(page, "[data-tile]")]
    assert widths and max(widths) < 180, widths
    assert len({round(r["y"]) for r in _boxes(page, "[data-tile]")}) < len(widths)  # 2+ a row
    video = page.locator(f"[data-tile][data-media-id='{catalogue['video']}']")
    assert video.locator(".play").is_visible() and video.locator(".duration").inner_text() == "10 s"
    page.screenshot(path=tmp_path / "library-390.png", full_page=True)
    # Thumbnails come from content-addressed URLs, cached for a year, lazily.
    thumb = page.locator("[data-tile] img").first
    assert thumb.get_attribute("loading") == "lazy"
    headers = page.evaluate(
        "async url => { const r = await fetch(url);"
        " return [r.headers.get('cache-control'), r.headers.get('etag')]; }",
        thumb.get_attribute("src"),
    )
    assert "immutable" in headers[0] and "max-age=31536000" in headers[0] and headers[1]

    # Multi-select: the count and the bulk buttons follow the boxes.
    page.locator("[data-select-all]").check()
    assert page.locator("[data-selected-count]").inner_text() == f"{len(widths)} selected"
    assert page.get_by_role("button", name="Retry selected").is_enabled()
    page.locator("[data-select]").first.uncheck()
    assert page.locator("[data-selected-count]").inner_text() == f"{len(widths) - 1} selected"


def _zip_of(members: dict[str, bytes], path) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def test_upload_from_the_keyboard_and_rows_that_say_what_happened(page, catalogue, tmp_path):
    from media_ingest.models import MediaFile
    from tenants.events import send_event

    bundle = tmp_path / "bundle.zip"
    members = {
        f"Edmund_Stoiber_000{n}.jpg": shared_file(
            "identities", "Edmund_Stoiber", f"Edmund_Stoiber_000{n}.jpg"
        ).read_bytes()
        for n in (2, 3, 4)
    }
    _zip_of({**members, "notes.txt": b"not a photo"}, bundle)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"this is no jpeg")

    # Playwright turns the browser's file-chooser interception on when a listener
    # is added; added only around the Enter, it raced the page's showPicker().
    page.on("filechooser", lambda _: None)
    page.goto("/upload/")
    page.locator("[data-events-status][data-state='open']").wait_for(timeout=30_000)
    # The file input is in the Tab order, its focus visible, and Enter opens it.
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.matches('[data-file-input]')"):
            break
    else:
        pytest.fail("Tab never reaches the file input")
    outline = page.locator("label[for='upload-files']").evaluate(
        "e => getComputedStyle(e).outlineStyle"
    )
    assert outline == "solid"
    with page.expect_file_chooser() as chooser:
        page.keyboard.press("Enter")
    chooser.value.set_files([str(shared_file(*PHOTOS[0])), str(broken), str(bundle)])

    rows = page.locator("[data-upload-list] > li")
    duplicate = rows.filter(has_text=PHOTOS[0][-1])
    duplicate.locator("a", has_text="open it").wait_for(timeout=30_000)
    assert duplicate.locator("a").get_attribute("href") == f"/library/{catalogue[PHOTOS[0][-1]]}/"
    refused = rows.filter(has_text="broken.jpg")
    page.wait_for_function("() => document.querySelector('[data-state=refused]')")
    assert "refused:" in refused.locator(".state").inner_text()
    color = refused.locator("progress").evaluate("e => getComputedStyle(e).accentColor")
    assert color == "rgb(180, 35, 24)"  # --danger
    archive = rows.filter(has_text="bundle.zip")
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-upload-list] .state')]"
        ".some(s => s.textContent.startsWith('4 files:'))",
        timeout=30_000,
    )
    assert "3 processing, 1 refused" in archive.locator(".state").inner_text()
    assert "notes.txt: refused" in archive.locator(".row-problems").inner_text()
    assert page.locator("[data-upload-summary]").inner_text() == "3 of 6 done"

    _in_thread(run_queued_tasks)  # a worker processes the zip's three photos
    page.wait_for_function(
        "() => document.querySelector('[data-upload-summary]').textContent === '6 of 6 done'",
        timeout=60_000,
    )
    assert archive.locator(".state").inner_text() == "4 files: 3 done, 1 refused"
    page.screenshot(path=tmp_path / "upload.png", full_page=True)

    # A file that failed gets a Retry button that queues it again.
    failed = _db(lambda: MediaFile.objects.get(original_name="Edmund_Stoiber_0003.jpg"))
    _db(
        lambda: MediaFile.objects.filter(pk=failed.pk).update(
            status="failed", error="The file is damaged."
        )
    )
    _in_thread(
        send_event,
        schema_name=ALPHA.schema_name,
        kind="media.failed",
        data={"media_id": failed.pk, "status": "failed", "error": "The file is damaged."},
    )
    retry = archive.get_by_role("button", name="Retry Edmund_Stoiber_0003.jpg")
    retry.wait_for(timeout=30_000)
    assert "1 failed" in archive.locator(".state").inner_text()
    retry.click()
    page.wait_for_function(
        "() => !document.querySelector('.row-problems [data-state=failed]')", timeout=30_000
    )
    assert _db(lambda: MediaFile.objects.get(pk=failed.pk).status) == "queued"
    _in_thread(run_queued_tasks)

    # The activity survives a reload: the page starts from the latest file states.
    page.reload()
    page.locator("[data-events-list] li", has_text="Edmund_Stoiber_0004.jpg").first.wait_for()


def test_the_dashboards_counts_follow_the_live_events(page, catalogue):
    from media_ingest.models import MediaFile
    from tenants.events import send_event
    from tests import factories

    page.goto("/")
    page.locator("[data-events-status][data-state='open']").wait_for(timeout=30_000)
    files = page.locator("[data-count='files'] .value")
    before = int(files.inner_text())
    # Recent activity is there at once, before any event arrives.
    assert page.locator("[data-events-list] li:not([data-events-empty])").count() >= 1
    added = _db(lambda: factories.media_file(original_name="new.jpg"))
    try:
        _in_thread(
            send_event,
            schema_name=ALPHA.schema_name,
            kind="media.done",
            data={"media_id": added.pk, "status": "done", "faces": 0, "message": "new.jpg done"},
        )
        page.wait_for_function(
            "() => document.querySelector(\"[data-count='files'] .value\").textContent"
            f" == '{before + 1}'",
            timeout=30_000,
        )
    finally:
        _db(lambda: MediaFile.objects.filter(pk=added.pk).delete())

from __future__ import annotations

import time

from django_tenants.utils import schema_context

from media_ingest.conf import ingest_setting
from media_ingest.models import MediaFile, Source
from media_ingest.watch import WatchFolder


def test_settled_files_are_ingested_and_moved_bad_ones_get_a_reason(
    alpha, beta, processing, astronaut_jpeg
):
    watcher = WatchFolder(root=ingest_setting("WATCH_DIR"))
    watcher.sweep()  # creates <root>/<slug>/{done,failed} for every tenant
    folder = ingest_setting("WATCH_DIR") / alpha.slug
    assert (folder / "done").is_dir() and (ingest_setting("WATCH_DIR") / beta.slug).is_dir()

    (folder / "photo.jpg").write_bytes(astronaut_jpeg)
    (folder / "broken.jpg").write_bytes(b"not an image at all")
    (folder / "copying.jpg.part").write_bytes(astronaut_jpeg[:100])
    assert watcher.sweep() == 0  # first sight: not yet known to be settled
    processing(watcher.sweep)

    assert (folder / "done" / "photo.jpg").exists()
    assert (folder / "failed" / "broken.jpg").exists()
    reason = (folder / "failed" / "broken.jpg.reason.txt").read_text()
    assert "not" in reason.lower() and len(reason) > 10
    assert (folder / "copying.jpg.part").exists()  # partial downloads are left alone
    with schema_context(alpha.schema_name):
        media = MediaFile.objects.get()
        assert media.source == Source.WATCH and media.status == MediaFile.Status.DONE
        assert media.face_count >= 1
    with schema_context(beta.schema_name):
        assert not MediaFile.objects.exists()


def test_a_file_still_being_written_is_not_taken_half_way(alpha, astronaut_jpeg):
    watcher = WatchFolder(root=ingest_setting("WATCH_DIR"))
    watcher.sweep()
    target = ingest_setting("WATCH_DIR") / alpha.slug / "growing.jpg"
    target.write_bytes(astronaut_jpeg[:1000])
    watcher.sweep()
    with target.open("ab") as handle:  # the copy goes on between two sweeps
        handle.write(astronaut_jpeg[1000:5000])
    time.sleep(0.01)
    assert watcher.sweep() == 0
    assert target.exists()

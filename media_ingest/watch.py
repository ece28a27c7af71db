"""The watch folder: files dropped into ``WATCH_DIR/<tenant slug>/`` are ingested.

A file is taken only once its size and modification time have stayed the
same across two sweeps (and it is not a hidden or partial-download name), so
a copy still being written is never picked up half-way. Afterwards it moves
to ``done/`` or to ``failed/`` beside a ``<name>.reason.txt``.
"""

from __future__ import annotations

import logging
import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from django_tenants.utils import schema_context

from tenants.selectors import tenant_list

from . import services
from .models import Source
from .validation import MediaRejected

logger = logging.getLogger(__name__)

PARTIAL_SUFFIXES = (".part", ".tmp", ".crdownload", ".partial", ".download")
SETTLE_SECONDS = 1.0


@dataclass
class WatchFolder:
    root: Path
    # path -> (size, mtime) seen at the previous sweep
    seen: dict[Path, tuple[int, float]] = field(default_factory=dict)

    def sweep(self) -> int:
        """One pass over every tenant's folder; returns how many files were taken."""
        taken = 0
        for tenant in tenant_list():
            if tenant.is_suspended:
                continue
            folder = self.root / tenant.slug
            for sub in ("", "done", "failed"):
                (folder / sub).mkdir(parents=True, exist_ok=True)
            ready = [path for path in sorted(folder.iterdir()) if self._settled(path)]
            if ready:
                with schema_context(tenant.schema_name):
                    taken += self._ingest(folder, ready)
        return taken

    def _settled(self, path: Path) -> bool:
        if not path.is_file() or path.name.startswith(".") or path.name.endswith(PARTIAL_SUFFIXES):
            return False
        stat = path.stat()
        signature = (stat.st_size, stat.st_mtime)
        previous = self.seen.get(path)
        self.seen[path] = signature
        return previous == signature and stat.st_size > 0

    def _ingest(self, folder: Path, paths: list[Path]) -> int:
        job = services.job_create(source=Source.WATCH)
        for path in paths:
            self.seen.pop(path, None)
            try:
                if zipfile.is_zipfile(path):
                    _, rejected = services.media_accept_many(
                        files=services.zip_members(path), source=Source.WATCH, job=job
                    )
                    notes = [f"{r.name}: {r.reason}" for r in rejected]
                else:
                    with path.open("rb") as stream:
                        services.media_accept(
                            stream=stream, name=path.name, source=Source.WATCH, job=job
                        )
                    notes = []
            except MediaRejected as exc:
                _move(path, folder / "failed", reason=exc.reason)
                services.job_note_rejected(
                    job=job, name=path.name, code=exc.code, reason=exc.reason
                )
                continue
            except Exception:
                logger.exception("watch folder: could not ingest %s", path)
                _move(path, folder / "failed", reason="Internal error while reading the file.")
                continue
            _move(path, folder / "done", reason="\n".join(notes) if notes else None)
        return len(paths)


def _move(path: Path, destination: Path, *, reason: str | None) -> None:
    target = destination / path.name
    counter = 1
    while target.exists():
        target = destination / f"{path.stem}-{counter}{path.suffix}"
        counter += 1
    shutil.move(path, target)
    if reason:
        target.with_name(target.name + ".reason.txt").write_text(reason + "\n")

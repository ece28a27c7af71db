"""The catalogue's tenant tasks, with their budgets (tenants.tasks)."""

from tenants.tasks import tenant_task

from .conf import ingest_setting
from .processing import process_media_file, process_photo_batch

# A video's budget: its probe (at most 60 s), the decoding child's own limit,
# and time to store what was found. Photos take seconds.
PROCESS_MEDIA_TIMEOUT_S = 60 + ingest_setting("VIDEO_TIMEOUT_S") + 120


@tenant_task(timeout_s=PROCESS_MEDIA_TIMEOUT_S)
def process_media(media_id: int) -> str:
    return process_media_file(media_id)


@tenant_task(timeout_s=600)
def process_media_batch(media_ids: list[int]) -> dict[int, str]:
    """GPU workers: many photos, one recogniser call."""
    return process_photo_batch(media_ids)

from tenants.tasks import tenant_task

from .processing import process_media_file, process_photo_batch


@tenant_task
def process_media(media_id: int) -> str:
    return process_media_file(media_id)


@tenant_task
def process_media_batch(media_ids: list[int]) -> dict[int, str]:
    """GPU workers: many photos, one recogniser call."""
    return process_photo_batch(media_ids)

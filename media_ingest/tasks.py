from tenants.tasks import tenant_task

from .processing import process_media_file


@tenant_task
def process_media(media_id: int) -> str:
    return process_media_file(media_id)

"""The S3-protocol server for the storage tests: moto's standalone server on loopback."""

from __future__ import annotations

import boto3
import pytest
from django.conf import settings
from django.test import override_settings

from tests.conftest import free_port

BUCKET = "facet-media-test"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


@pytest.fixture(scope="module")
def s3_endpoint():
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_bucket(Bucket=BUCKET)
    try:
        yield endpoint
    finally:
        server.stop()


@pytest.fixture
def s3(s3_endpoint, monkeypatch):
    """The platform's storage switched to the bucket; yields a boto3 client."""
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    storages = {**settings.STORAGES, "default": {"BACKEND": "tenants.storage.TenantS3Storage"}}
    with override_settings(
        FACET_STORAGE="s3",
        STORAGES=storages,
        AWS_STORAGE_BUCKET_NAME=BUCKET,
        AWS_S3_ENDPOINT_URL=s3_endpoint,
        AWS_S3_REGION_NAME="us-east-1",
        FACET_S3_PREFIX="media",
    ):
        yield boto3.client(
            "s3", endpoint_url=s3_endpoint, region_name="us-east-1", **_lower(CREDENTIALS)
        )


def _lower(values: dict) -> dict:
    return {name.lower(): value for name, value in values.items()}

"""Media API: /api/v1/media/, /api/v1/faces/, /api/v1/jobs/, /api/v1/stats/."""

from __future__ import annotations

import hashlib
import zipfile

from django.core.files.storage import default_storage
from django.http import Http404, HttpResponse, HttpResponseNotModified
from django.urls import reverse
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from tenants.access import Action
from tenants.api_views import TenantAPIView
from tenants.errors import ServiceError

from . import selectors, services
from .models import Face, FaceTrack, IngestJob, MediaFile, Source
from .validation import SNIFF_BYTES, MediaRejected, sniff_bytes


class FaceSerializer(serializers.ModelSerializer):
    box = serializers.SerializerMethodField()
    track_id = serializers.IntegerField(allow_null=True)
    image_url = serializers.SerializerMethodField()

    class Meta:
        model = Face
        fields = ["id", "box", "quality", "detector_score", "frame_time_s", "track_id", "image_url"]

    def get_box(self, face: Face) -> list[int]:
        return list(face.box)

    def get_image_url(self, face: Face) -> str:
        return reverse("api-face-image", args=[face.pk])


class TrackSerializer(serializers.ModelSerializer):
    face_id = serializers.SerializerMethodField()

    class Meta:
        model = FaceTrack
        fields = ["id", "first_time_s", "last_time_s", "frame_count", "face_id"]

    def get_face_id(self, track: FaceTrack) -> int | None:
        face = getattr(track, "best_face", None)
        return face.pk if face else None


class MediaSerializer(serializers.ModelSerializer):
    class Meta:
        model = MediaFile
        fields = [
            "id",
            "job_id",
            "kind",
            "source",
            "original_name",
            "mime",
            "size_bytes",
            "width",
            "height",
            "duration_s",
            "status",
            "error_code",
            "error",
            "attempts",
            "face_count",
            "created_at",
            "processed_at",
        ]


class MediaDetailSerializer(MediaSerializer):
    faces = FaceSerializer(many=True, read_only=True)
    tracks = TrackSerializer(many=True, read_only=True)

    class Meta(MediaSerializer.Meta):
        fields = [*MediaSerializer.Meta.fields, "faces", "tracks"]


class JobSerializer(serializers.ModelSerializer):
    status = serializers.CharField()

    class Meta:
        model = IngestJob
        fields = [
            "id",
            "source",
            "status",
            "total_files",
            "done_files",
            "failed_files",
            "rejected",
            "created_at",
        ]


_BINARY = {"type": "string", "format": "binary"}
_ONE_FILE = {"type": "object", "properties": {"file": _BINARY}, "required": ["file"]}
_MANY_FILES = {
    "type": "object",
    "properties": {"file": {"type": "array", "items": _BINARY}},
    "required": ["file"],
}


class QueuedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    job_id = serializers.IntegerField(allow_null=True)
    status = serializers.ChoiceField(MediaFile.Status.choices)


class BatchItemSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    status = serializers.ChoiceField(MediaFile.Status.choices)
    duplicate = serializers.BooleanField(help_text="Identical bytes were in the library already")


class RefusedSerializer(serializers.Serializer):
    name = serializers.CharField()
    code = serializers.CharField()
    reason = serializers.CharField()


class BatchQueuedSerializer(serializers.Serializer):
    job_id = serializers.IntegerField()
    accepted = BatchItemSerializer(many=True)
    rejected = RefusedSerializer(many=True)


def _source_of(request) -> str:
    """The portal's upload page signs requests with the session; API clients with a token."""
    return Source.API if request.auth is not None else Source.WEB


class MediaListView(TenantAPIView):
    parser_classes = [MultiPartParser]

    @extend_schema(
        parameters=[
            OpenApiParameter("kind", enum=MediaFile.Kind.values),
            OpenApiParameter("status", enum=MediaFile.Status.values),
            OpenApiParameter("source", enum=Source.values),
            OpenApiParameter("created_after", type=str, description="ISO date or datetime"),
            OpenApiParameter("created_before", type=str, description="ISO date or datetime"),
            OpenApiParameter("page", type=int),
        ],
        responses=MediaSerializer(many=True),
    )
    def get(self, request):
        filters = FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        paginator = self.paginator()
        page = paginator.paginate_queryset(selectors.media_list(**filters.validated_data), request)
        return paginator.get_paginated_response(MediaSerializer(page, many=True).data)

    @extend_schema(
        request={"multipart/form-data": _ONE_FILE},
        responses={
            201: QueuedSerializer,
            200: OpenApiResponse(QueuedSerializer, description="Already in the library"),
        },
    )
    def post(self, request):
        upload = request.FILES.get("file")
        if upload is None:
            raise ServiceError("Send the file in the multipart field 'file'.", "missing-file")
        source = _source_of(request)
        job = services.job_create(source=source, user=request.user)
        try:
            result = services.media_accept(
                stream=upload, name=upload.name, source=source, job=job, user=request.user
            )
        except MediaRejected:
            job.delete()
            raise
        if not result.created:
            job.delete()
        media = result.media
        return Response(
            {"id": media.pk, "job_id": media.job_id, "status": media.status},
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )


class FilterSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(MediaFile.Kind.values, required=False)
    status = serializers.ChoiceField(MediaFile.Status.values, required=False)
    source = serializers.ChoiceField(Source.values, required=False)
    created_after = serializers.DateTimeField(required=False)
    created_before = serializers.DateTimeField(required=False)


def _is_zip_archive(upload) -> bool:
    """One upload that is a zip and not a photo or video (an image with a zip
    appended is a polyglot, refused as the image it claims to be)."""
    head = upload.read(SNIFF_BYTES)
    upload.seek(0)
    archive = zipfile.is_zipfile(upload)
    upload.seek(0)  # is_zipfile leaves the file at its end
    return archive and sniff_bytes(head) is None


def _batch_files(request):
    """(name, stream) pairs from many `file` fields, or from the members of one zip."""
    uploads = request.FILES.getlist("file")
    if len(uploads) == 1 and _is_zip_archive(uploads[0]):
        archive_path = (
            uploads[0].temporary_file_path() if hasattr(uploads[0], "temporary_file_path") else None
        )
        source = archive_path or uploads[0]
        return Source.ZIP, services.zip_members(source)
    return _source_of(request), ((upload.name, upload) for upload in uploads)


class MediaBatchView(TenantAPIView):
    parser_classes = [MultiPartParser]

    @extend_schema(
        request={"multipart/form-data": _MANY_FILES}, responses={202: BatchQueuedSerializer}
    )
    def post(self, request):
        if not request.FILES.getlist("file"):
            raise ServiceError("Send files (or one zip) in 'file' fields.", "missing-file")
        source, files = _batch_files(request)
        job = services.job_create(source=source, user=request.user)
        try:
            accepted, rejected = services.media_accept_many(
                files=files, source=source, job=job, user=request.user
            )
        except MediaRejected:  # the archive itself is unsafe: nothing is kept
            job.delete()
            raise
        return Response(
            {
                "job_id": job.pk,
                "accepted": [
                    {
                        "id": a.media.pk,
                        "name": a.media.original_name,
                        "status": a.media.status,
                        "duplicate": not a.created,
                    }
                    for a in accepted
                ],
                "rejected": [r.as_dict() for r in rejected],
            },
            status=status.HTTP_202_ACCEPTED,
        )


class MediaDetailView(TenantAPIView):
    def _media(self, media_id: int) -> MediaFile:
        media = selectors.media_get(media_id=media_id)
        if media is None:
            raise Http404("No such media file.")
        return media

    @extend_schema(responses=MediaDetailSerializer)
    def get(self, request, media_id: int):
        return Response(MediaDetailSerializer(self._media(media_id)).data)

    @extend_schema(responses={204: None})
    def delete(self, request, media_id: int):
        services.media_delete(media=self._media(media_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


# A year: the longest max-age caches honour. ``private``: crops and thumbnails
# are biometric data behind a sign-in, never for a shared cache.
IMMUTABLE = "private, max-age=31536000, immutable"


def immutable_jpeg(request, name: str) -> HttpResponse:
    """A small stored JPEG (a crop, a thumbnail) whose URL names this content
    for good, with a year's caching and an ETag of its bytes (a revalidation
    is a 304). Raises Http404 when the file is gone."""
    if not name or not default_storage.exists(name):
        raise Http404("No such image.")
    with default_storage.open(name, "rb") as handle:
        data = handle.read()
    etag = f'"{hashlib.sha256(data).hexdigest()[:32]}"'
    if etag in request.headers.get("If-None-Match", ""):
        response = HttpResponseNotModified()
    else:
        response = HttpResponse(data, content_type="image/jpeg")
    response["ETag"] = etag
    response["Cache-Control"] = IMMUTABLE
    response["X-Content-Type-Options"] = "nosniff"
    return response


class MediaRetryView(TenantAPIView):
    """Process a failed file again (media_ingest.services.media_retry)."""

    actions = {"POST": Action.CHANGE}

    @extend_schema(request=None, responses={202: QueuedSerializer})
    def post(self, request, media_id: int):
        media = selectors.media_get(media_id=media_id)
        if media is None:
            raise Http404("No such media file.")
        if not services.media_retry(media=media):
            raise ServiceError("Only a failed file can be retried.", "not-failed", http_status=409)
        return Response(
            {"id": media.pk, "job_id": media.job_id, "status": MediaFile.Status.QUEUED},
            status=status.HTTP_202_ACCEPTED,
        )


class FaceImageView(TenantAPIView):
    """A face's crop. Its URL is immutable: a face row's crop is written once,
    with the row; processing a file again deletes its faces and makes new ones
    (new ids, new URLs), and a deleted face's URL answers 404."""

    @extend_schema(responses={(200, "image/jpeg"): bytes})
    def get(self, request, face_id: int):
        crop = selectors.face_crop_name(face_id=face_id)
        if not crop:
            raise Http404("No such face.")
        return immutable_jpeg(request, crop)


class JobDetailView(TenantAPIView):
    @extend_schema(responses=JobSerializer)
    def get(self, request, job_id: int):
        job = selectors.job_get(job_id=job_id)
        if job is None:
            raise Http404("No such job.")
        return Response(JobSerializer(job).data)


class ActivitySerializer(serializers.Serializer):
    kind = serializers.CharField(
        help_text="As on the event stream: media.done, ...; upload.refused"
    )
    at = serializers.DateTimeField()
    message = serializers.CharField()
    media_id = serializers.IntegerField(allow_null=True)
    job_id = serializers.IntegerField(allow_null=True)
    status = serializers.CharField()


class ActivityView(TenantAPIView):
    """The latest things that happened to the library, newest first: what the
    live activity lists show before the socket has anything new."""

    @extend_schema(responses=ActivitySerializer(many=True))
    def get(self, request):
        return Response(ActivitySerializer(selectors.recent_activity(), many=True).data)


class StatsSerializer(serializers.Serializer):
    files = serializers.IntegerField()
    photos = serializers.IntegerField()
    videos = serializers.IntegerField()
    bytes = serializers.IntegerField(help_text="Size of the originals")
    faces = serializers.IntegerField()
    tracks = serializers.IntegerField(help_text="Video tracks (one face each)")
    by_status = inline_serializer(
        "StatsByStatus", {value: serializers.IntegerField() for value in MediaFile.Status.values}
    )
    jobs = serializers.IntegerField()


class StatsView(TenantAPIView):
    @extend_schema(responses=StatsSerializer)
    def get(self, request):
        return Response(selectors.library_stats())

"""Media API: /api/v1/media/, /api/v1/faces/, /api/v1/jobs/, /api/v1/stats/."""

from __future__ import annotations

import zipfile

from django.core.files.storage import default_storage
from django.http import FileResponse, Http404
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from tenants.permissions import TenantMemberPermission

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


_str = serializers.CharField()
_BINARY = {"type": "string", "format": "binary"}
_ONE_FILE = {"type": "object", "properties": {"file": _BINARY}, "required": ["file"]}
_MANY_FILES = {"type": "object", "properties": {"file": {"type": "array", "items": _BINARY}}}
_QUEUED = inline_serializer(
    "Queued",
    {"id": serializers.IntegerField(), "job_id": serializers.IntegerField(), "status": _str},
)


class _TenantAPIView(APIView):
    permission_classes = [TenantMemberPermission]


def _source_of(request) -> str:
    """The portal's upload page signs requests with the session; API clients with a token."""
    return Source.API if request.auth is not None else Source.WEB


# Refusals that are about size, not content: 413, so clients can tell them apart.
_TOO_LARGE_CODES = {"too-large", "quota-exceeded"}


def _rejection(exc: MediaRejected) -> Response:
    code = (
        status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
        if exc.code in _TOO_LARGE_CODES
        else status.HTTP_400_BAD_REQUEST
    )
    return Response({"code": exc.code, "detail": exc.reason}, status=code)


class MediaListView(_TenantAPIView):
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
        paginator = self.pagination_class_instance()
        page = paginator.paginate_queryset(selectors.media_list(**filters.validated_data), request)
        return paginator.get_paginated_response(MediaSerializer(page, many=True).data)

    @extend_schema(
        request={
            "multipart/form-data": {
                "type": "object",
                "properties": {"file": {"type": "string", "format": "binary"}},
            }
        },
        responses={
            201: inline_serializer(
                "Queued",
                {
                    "id": serializers.IntegerField(),
                    "job_id": serializers.IntegerField(),
                    "status": serializers.CharField(),
                },
            )
        },
    )
    def post(self, request):
        upload = request.FILES.get("file")
        if upload is None:
            return Response(
                {"code": "missing-file", "detail": "Send the file in the multipart field 'file'."},
                status=400,
            )
        source = _source_of(request)
        job = services.job_create(source=source, user=request.user)
        try:
            result = services.media_accept(
                stream=upload, name=upload.name, source=source, job=job, user=request.user
            )
        except MediaRejected as exc:
            job.delete()
            return _rejection(exc)
        if not result.created:
            job.delete()
        media = result.media
        return Response(
            {"id": media.pk, "job_id": media.job_id, "status": media.status},
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )

    @staticmethod
    def pagination_class_instance():
        from rest_framework.settings import api_settings

        return api_settings.DEFAULT_PAGINATION_CLASS()


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


class MediaBatchView(_TenantAPIView):
    parser_classes = [MultiPartParser]

    @extend_schema(
        request={
            "multipart/form-data": {
                "type": "object",
                "properties": {
                    "file": {"type": "array", "items": {"type": "string", "format": "binary"}}
                },
            }
        },
        responses={
            202: inline_serializer(
                "BatchQueued",
                {
                    "job_id": serializers.IntegerField(),
                    "accepted": serializers.ListField(child=serializers.DictField()),
                    "rejected": serializers.ListField(child=serializers.DictField()),
                },
            )
        },
    )
    def post(self, request):
        if not request.FILES.getlist("file"):
            return Response(
                {"code": "missing-file", "detail": "Send files (or one zip) in 'file' fields."},
                status=400,
            )
        source, files = _batch_files(request)
        job = services.job_create(source=source, user=request.user)
        try:
            accepted, rejected = services.media_accept_many(
                files=files, source=source, job=job, user=request.user
            )
        except MediaRejected as exc:  # the archive itself is unsafe: nothing is kept
            job.delete()
            return _rejection(exc)
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


class MediaDetailView(_TenantAPIView):
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


class FaceImageView(_TenantAPIView):
    @extend_schema(responses={(200, "image/jpeg"): bytes})
    def get(self, request, face_id: int):
        face = selectors.face_get(face_id=face_id)
        if face is None or not default_storage.exists(face.crop.name):
            raise Http404("No such face.")
        return FileResponse(default_storage.open(face.crop.name, "rb"), content_type="image/jpeg")


class JobDetailView(_TenantAPIView):
    @extend_schema(responses=JobSerializer)
    def get(self, request, job_id: int):
        job = selectors.job_get(job_id=job_id)
        if job is None:
            raise Http404("No such job.")
        return Response(JobSerializer(job).data)


class StatsView(_TenantAPIView):
    @extend_schema(responses=inline_serializer("Stats", {"files": serializers.IntegerField()}))
    def get(self, request):
        return Response(selectors.library_stats())

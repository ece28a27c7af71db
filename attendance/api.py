"""Attendance API under /api/v1/attendance/: kiosks (admins), frames and status
(kiosk keys only), groups, sessions, events (the marks), corrections, reports."""

from __future__ import annotations

import datetime as dt

from django.http import Http404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import renderers, serializers, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from media_ingest.query_photos import refuse_oversized_request
from people.models import Person
from tenants.access import Action
from tenants.api_views import TenantAPIView

from . import reports, selectors, services
from .errors import AttendanceError
from .keys import SCOPE_POST_FRAMES, SCOPE_READ_STATUS
from .models import Correction, Group, Kiosk, Mark, Session
from .throttles import KioskRateThrottle

# ------------------------------------------------------------------ kiosks

NO_STORE = {"Cache-Control": "no-store"}  # answers that carry a kiosk key


class KioskSerializer(serializers.ModelSerializer):
    groups = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    revoked = serializers.BooleanField(source="is_revoked", read_only=True)

    class Meta:
        model = Kiosk
        fields = [
            "id", "name", "location", "cooldown_minutes", "groups", "opens_at", "closes_at",
            "key_prefix", "key_issued_at", "revoked", "last_seen_at", "created_at",
        ]  # fmt: skip


class KioskWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    location = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    cooldown_minutes = serializers.IntegerField(min_value=0, max_value=24 * 60, required=False)
    groups = serializers.ListField(child=serializers.IntegerField(), required=False, default=list)
    opens_at = serializers.TimeField(required=False, allow_null=True, default=None)
    closes_at = serializers.TimeField(required=False, allow_null=True, default=None)


class KioskPatchSerializer(KioskWriteSerializer):
    name = serializers.CharField(max_length=200, required=False)
    location = serializers.CharField(max_length=200, required=False, allow_blank=True)
    groups = serializers.ListField(child=serializers.IntegerField(), required=False)
    opens_at = serializers.TimeField(required=False, allow_null=True)
    closes_at = serializers.TimeField(required=False, allow_null=True)


class KioskKeySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    key = serializers.CharField(help_text="Shown once: only its digest is kept")


def _groups(ids: list[int]) -> list[Group]:
    found = list(Group.objects.filter(pk__in=ids))
    if len(found) != len(set(ids)):
        raise AttendanceError("Some of these groups do not exist.", "unknown-group")
    return found


def _kiosk(kiosk_id: int) -> Kiosk:
    kiosk = selectors.kiosk_get(kiosk_id=kiosk_id)
    if kiosk is None:
        raise Http404("No such kiosk.")
    return kiosk


class KioskListView(TenantAPIView):
    """Admins register kiosks; the answer carries the kiosk's key, once."""

    actions = {"GET": Action.MANAGE, "POST": Action.MANAGE}
    parser_classes = [JSONParser, FormParser]

    @extend_schema(responses=KioskSerializer(many=True))
    def get(self, request):
        return Response(KioskSerializer(selectors.kiosk_list(), many=True).data)

    @extend_schema(request=KioskWriteSerializer, responses={201: KioskKeySerializer})
    def post(self, request):
        data = KioskWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        groups = _groups(values.pop("groups"))
        kiosk, key = services.kiosk_create(**values, groups=groups, created_by=request.user)
        return Response(
            {"id": kiosk.pk, "key": key}, status=status.HTTP_201_CREATED, headers=NO_STORE
        )


class KioskDetailView(TenantAPIView):
    actions = {"GET": Action.MANAGE, "PATCH": Action.MANAGE, "DELETE": Action.MANAGE}
    parser_classes = [JSONParser, FormParser]

    @extend_schema(responses=KioskSerializer)
    def get(self, request, kiosk_id: int):
        return Response(KioskSerializer(_kiosk(kiosk_id)).data)

    @extend_schema(request=KioskPatchSerializer, responses=KioskSerializer)
    def patch(self, request, kiosk_id: int):
        kiosk = _kiosk(kiosk_id)
        data = KioskPatchSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        groups = _groups(values.pop("groups")) if "groups" in values else None
        services.kiosk_update(kiosk=kiosk, groups=groups, **values)
        return Response(KioskSerializer(_kiosk(kiosk_id)).data)

    @extend_schema(responses={204: None})
    def delete(self, request, kiosk_id: int):
        kiosk = _kiosk(kiosk_id)
        services.kiosk_revoke(kiosk=kiosk)
        kiosk.delete()  # its marks stay, without a kiosk
        return Response(status=status.HTTP_204_NO_CONTENT)


class KioskRotateView(TenantAPIView):
    """A new key; the old one stops working at once."""

    actions = {"POST": Action.MANAGE}

    @extend_schema(request=None, responses=KioskKeySerializer)
    def post(self, request, kiosk_id: int):
        kiosk = _kiosk(kiosk_id)
        key = services.kiosk_rotate_key(kiosk=kiosk)
        return Response({"id": kiosk.pk, "key": key}, headers=NO_STORE)


class KioskRevokeView(TenantAPIView):
    actions = {"POST": Action.MANAGE}

    @extend_schema(request=None, responses=KioskSerializer)
    def post(self, request, kiosk_id: int):
        return Response(KioskSerializer(services.kiosk_revoke(kiosk=_kiosk(kiosk_id))).data)


class KioskStatusSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    location = serializers.CharField()
    cooldown_minutes = serializers.IntegerField()
    opens_at = serializers.TimeField(allow_null=True)
    closes_at = serializers.TimeField(allow_null=True)
    open_now = serializers.BooleanField()
    groups = serializers.ListField(child=serializers.CharField())


def kiosk_status(kiosk: Kiosk) -> dict:
    return {
        "id": kiosk.pk,
        "name": kiosk.name,
        "location": kiosk.location,
        "cooldown_minutes": kiosk.cooldown_minutes,
        "opens_at": kiosk.opens_at,
        "closes_at": kiosk.closes_at,
        "open_now": services.is_open(kiosk, timezone.now()),
        "groups": [g.name for g in kiosk.groups.all()],
    }


class KioskStatusView(TenantAPIView):
    """The calling kiosk's own status (kiosk keys only)."""

    actions = {"GET": SCOPE_READ_STATUS}

    @extend_schema(responses=KioskStatusSerializer)
    def get(self, request):
        return Response(KioskStatusSerializer(kiosk_status(request.auth.kiosk)).data)


_FRAME = {
    "type": "object",
    "properties": {"frame": {"type": "string", "format": "binary"}},
    "required": ["frame"],
}


class FramePersonSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class FrameMarkSerializer(serializers.Serializer):
    person = FramePersonSerializer()
    status = serializers.ChoiceField(["marked", "cooldown", "not-member"])
    at = serializers.DateTimeField()
    box = serializers.ListField(child=serializers.IntegerField())
    similarity = serializers.FloatField()


class FrameResponseSerializer(serializers.Serializer):
    marks = FrameMarkSerializer(many=True)
    unknown = serializers.IntegerField()
    unknown_boxes = serializers.ListField(
        child=serializers.ListField(child=serializers.IntegerField())
    )
    elapsed_ms = serializers.FloatField()


def describe_frame(result: services.FrameResult) -> dict:
    return {
        "marks": [
            {
                "person": {"id": m.person_id, "name": m.name},
                "status": m.status,
                "at": m.at.isoformat(),
                "box": m.box,
                "similarity": m.similarity,
            }
            for m in result.marks
        ],
        "unknown": result.unknown,
        "unknown_boxes": result.unknown_boxes,
        "elapsed_ms": round(result.elapsed_ms, 1),
    }


class FrameView(TenantAPIView):
    """One camera frame from a kiosk: its people marked (or in cooldown), its
    unknown faces counted. ``Authorization: Kiosk <key>``; throttled per kiosk."""

    actions = {"POST": SCOPE_POST_FRAMES}
    parser_classes = [MultiPartParser]
    throttle_classes = [KioskRateThrottle]

    @extend_schema(
        request={"multipart/form-data": _FRAME},
        responses={
            200: FrameResponseSerializer,
            409: OpenApiResponse(description="The kiosk is closed (opening hours)"),
            413: OpenApiResponse(description="The frame is too large"),
        },
    )
    def post(self, request):
        refuse_oversized_request(request)
        frame = request.FILES.get("frame")
        if frame is None:
            raise AttendanceError("Send the frame in the multipart field 'frame'.", "missing-file")
        result = services.frame_process(kiosk=request.auth.kiosk, frame=frame)
        return Response(describe_frame(result))


# ------------------------------------------------------------------ groups and sessions


class SessionSerializer(serializers.ModelSerializer):
    weekdays = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=6), help_text="0 Monday … 6 Sunday"
    )

    class Meta:
        model = Session
        fields = [
            "id", "group", "name", "starts_at", "ends_at", "weekdays", "late_after_minutes",
            "valid_from", "valid_until",
        ]  # fmt: skip


class GroupSerializer(serializers.ModelSerializer):
    members = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    sessions = SessionSerializer(many=True, read_only=True)

    class Meta:
        model = Group
        fields = ["id", "name", "members", "sessions", "created_at"]


class GroupWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    members = serializers.ListField(child=serializers.IntegerField(), required=False, default=list)


class GroupPatchSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)
    members = serializers.ListField(child=serializers.IntegerField(), required=False)


def _people(ids: list[int]) -> list[Person]:
    found = list(Person.objects.filter(pk__in=ids))
    if len(found) != len(set(ids)):
        raise AttendanceError("Some of these people do not exist.", "unknown-person")
    return found


def _group(group_id: int) -> Group:
    group = selectors.group_get(group_id=group_id)
    if group is None:
        raise Http404("No such group.")
    return group


class GroupListView(TenantAPIView):
    parser_classes = [JSONParser, FormParser]

    @extend_schema(responses=GroupSerializer(many=True))
    def get(self, request):
        return Response(GroupSerializer(selectors.group_list(), many=True).data)

    @extend_schema(request=GroupWriteSerializer, responses={201: GroupSerializer})
    def post(self, request):
        data = GroupWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        group = services.group_create(
            name=data.validated_data["name"], members=_people(data.validated_data["members"])
        )
        return Response(GroupSerializer(_group(group.pk)).data, status=status.HTTP_201_CREATED)


class GroupDetailView(TenantAPIView):
    parser_classes = [JSONParser, FormParser]

    @extend_schema(responses=GroupSerializer)
    def get(self, request, group_id: int):
        return Response(GroupSerializer(_group(group_id)).data)

    @extend_schema(request=GroupPatchSerializer, responses=GroupSerializer)
    def patch(self, request, group_id: int):
        group = _group(group_id)
        data = GroupPatchSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        members = data.validated_data.get("members")
        services.group_update(
            group=group,
            name=data.validated_data.get("name"),
            members=_people(members) if members is not None else None,
        )
        return Response(GroupSerializer(_group(group_id)).data)

    @extend_schema(responses={204: None})
    def delete(self, request, group_id: int):
        services.group_delete(group=_group(group_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


def _session(session_id: int) -> Session:
    session = selectors.session_get(session_id=session_id)
    if session is None:
        raise Http404("No such session.")
    return session


class SessionListView(TenantAPIView):
    parser_classes = [JSONParser, FormParser]

    @extend_schema(
        parameters=[OpenApiParameter("group", int, description="Only this group's sessions")],
        responses=SessionSerializer(many=True),
    )
    def get(self, request):
        group = _int_param(request, "group")
        return Response(SessionSerializer(selectors.session_list(group_id=group), many=True).data)

    @extend_schema(request=SessionSerializer, responses={201: SessionSerializer})
    def post(self, request):
        data = SessionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        session = services.session_create(**data.validated_data)
        return Response(SessionSerializer(session).data, status=status.HTTP_201_CREATED)


class SessionDetailView(TenantAPIView):
    parser_classes = [JSONParser, FormParser]

    @extend_schema(responses=SessionSerializer)
    def get(self, request, session_id: int):
        return Response(SessionSerializer(_session(session_id)).data)

    @extend_schema(request=SessionSerializer(partial=True), responses=SessionSerializer)
    def patch(self, request, session_id: int):
        session = _session(session_id)
        data = SessionSerializer(session, data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        return Response(
            SessionSerializer(services.session_update(session=session, **data.validated_data)).data
        )

    @extend_schema(responses={204: None})
    def delete(self, request, session_id: int):
        services.session_delete(session=_session(session_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


# ------------------------------------------------------------------ events and corrections


class CorrectionSerializer(serializers.ModelSerializer):
    made_by = serializers.SerializerMethodField()

    class Meta:
        model = Correction
        fields = ["id", "kind", "mark", "reason", "made_by", "made_at"]

    def get_made_by(self, correction: Correction) -> str | None:
        user = correction.made_by
        return (user.email or user.username) if user else None


class MarkSerializer(serializers.ModelSerializer):
    person = serializers.SerializerMethodField()
    kiosk = serializers.SerializerMethodField()
    removed = serializers.SerializerMethodField()
    corrections = CorrectionSerializer(many=True, read_only=True)

    class Meta:
        model = Mark
        fields = [
            "id", "person", "kiosk", "source", "at", "similarity", "removed", "removed_at",
            "corrections",
        ]  # fmt: skip

    def get_person(self, mark: Mark) -> dict:
        return {"id": mark.person_id, "name": mark.person.name}

    def get_kiosk(self, mark: Mark) -> dict | None:
        return {"id": mark.kiosk_id, "name": mark.kiosk.name} if mark.kiosk else None

    def get_removed(self, mark: Mark) -> bool:
        return mark.removed_at is not None


def _int_param(request, name: str) -> int | None:
    value = request.query_params.get(name)
    if value in (None, ""):
        return None
    if not value.isdigit():
        raise AttendanceError(f"{name} is a number.", "invalid")
    return int(value)


def _date_param(request, name: str = "date", *, required: bool = False) -> dt.date | None:
    value = request.query_params.get(name)
    if not value:
        if required:
            raise AttendanceError(f"Give the {name} as YYYY-MM-DD.", "invalid")
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise AttendanceError(f"Give the {name} as YYYY-MM-DD.", "invalid") from None


_EVENT_FILTERS = [
    OpenApiParameter("date", OpenApiTypes.DATE, description="Marks of this day"),
    OpenApiParameter("person", int),
    OpenApiParameter("kiosk", int),
    OpenApiParameter("group", int, description="Marks of this group's members"),
    OpenApiParameter("removed", bool, description="Include removed marks"),
]


class MarkListView(TenantAPIView):
    """The record: marks, newest first, each with its corrections."""

    @extend_schema(parameters=_EVENT_FILTERS, responses=MarkSerializer(many=True))
    def get(self, request):
        marks = selectors.mark_list(
            day=_date_param(request),
            person_id=_int_param(request, "person"),
            kiosk_id=_int_param(request, "kiosk"),
            group_id=_int_param(request, "group"),
            include_removed=request.query_params.get("removed") in ("1", "true"),
        )
        paginator = self.paginator()
        page = paginator.paginate_queryset(marks, request)
        return paginator.get_paginated_response(MarkSerializer(page, many=True).data)


class CorrectionWriteSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(Correction.Kind.choices)
    reason = serializers.CharField()
    person = serializers.IntegerField(required=False, help_text="add: who was missed")
    at = serializers.DateTimeField(required=False, help_text="add: when they came")
    mark = serializers.IntegerField(required=False, help_text="remove: the wrong mark")

    def validate(self, data):
        if data["kind"] == Correction.Kind.ADD and not {"person", "at"} <= set(data):
            raise serializers.ValidationError("Adding a mark needs person and at.")
        if data["kind"] == Correction.Kind.REMOVE and "mark" not in data:
            raise serializers.ValidationError("Removing a mark needs mark.")
        return data


class CorrectionListView(TenantAPIView):
    """Corrections: a missed mark added, a wrong one removed; each with who and why."""

    actions = {"GET": Action.VIEW, "POST": Action.CHANGE}
    parser_classes = [JSONParser, FormParser]

    @extend_schema(responses=CorrectionSerializer(many=True))
    def get(self, request):
        paginator = self.paginator()
        page = paginator.paginate_queryset(selectors.correction_list(), request)
        return paginator.get_paginated_response(CorrectionSerializer(page, many=True).data)

    @extend_schema(request=CorrectionWriteSerializer, responses={201: CorrectionSerializer})
    def post(self, request):
        data = CorrectionWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        if values["kind"] == Correction.Kind.ADD:
            person = Person.objects.filter(pk=values["person"]).first()
            if person is None:
                raise Http404("No such person.")
            correction = services.correction_add_mark(
                person=person, at=values["at"], reason=values["reason"], user=request.user
            )
        else:
            mark = selectors.mark_get(mark_id=values["mark"])
            if mark is None:
                raise Http404("No such mark.")
            correction = services.correction_remove_mark(
                mark=mark, reason=values["reason"], user=request.user
            )
        return Response(CorrectionSerializer(correction).data, status=status.HTTP_201_CREATED)


# ------------------------------------------------------------------ reports


class _FileRenderer(renderers.BaseRenderer):
    """Passes the report's bytes through; an error body is JSON text."""

    charset = None

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, bytes):
            return data
        return renderers.JSONRenderer().render(data)


class CSVRenderer(_FileRenderer):
    media_type = "text/csv"
    format = "csv"


class XLSXRenderer(_FileRenderer):
    media_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    format = "xlsx"


class ReportRowSerializer(serializers.Serializer):
    date = serializers.DateField()
    group = serializers.CharField()
    session = serializers.CharField()
    person_id = serializers.IntegerField()
    person = serializers.CharField()
    status = serializers.ChoiceField([reports.PRESENT, reports.LATE, reports.ABSENT])
    first_in = serializers.DateTimeField(allow_null=True)
    last_out = serializers.DateTimeField(allow_null=True)


class ReportSerializer(serializers.Serializer):
    date = serializers.DateField()
    counts = serializers.DictField(child=serializers.IntegerField())
    rows = ReportRowSerializer(many=True)


class ReportView(TenantAPIView):
    """A day's attendance, per group and person: JSON, CSV or XLSX (``format``)."""

    renderer_classes = [renderers.JSONRenderer, CSVRenderer, XLSXRenderer]

    @extend_schema(
        parameters=[
            OpenApiParameter("date", OpenApiTypes.DATE, required=True),
            OpenApiParameter("group", int),
            OpenApiParameter("person", int),
            OpenApiParameter("format", str, enum=["json", "csv", "xlsx"]),
        ],
        responses={
            (200, "application/json"): ReportSerializer,
            (200, "text/csv"): OpenApiTypes.BINARY,
            (
                200,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            ): OpenApiTypes.BINARY,
        },
    )
    def get(self, request):
        day = _date_param(request, required=True)
        group_id = _int_param(request, "group")
        if group_id is not None and selectors.group_get(group_id=group_id) is None:
            raise Http404("No such group.")
        rows = reports.day_report(
            day=day, group_id=group_id, person_id=_int_param(request, "person")
        )
        kind = request.accepted_renderer.format
        name = f"attendance-{day.isoformat()}" + (f"-group-{group_id}" if group_id else "")
        if kind == "csv":
            return _download(reports.as_csv(rows), f"{name}.csv")
        if kind == "xlsx":
            return _download(reports.as_xlsx(rows, title=day.isoformat()), f"{name}.xlsx")
        return Response(
            {
                "date": day,
                "counts": reports.summary(rows),
                "rows": [dict(zip(reports.COLUMNS, _json_row(r), strict=True)) for r in rows],
            }
        )


def _json_row(row: reports.ReportRow) -> list:
    return [
        row.day, row.group, row.session, row.person_id, row.person, row.status,
        row.first_in, row.last_out,
    ]  # fmt: skip


def _download(body: bytes, filename: str) -> Response:
    return Response(body, headers={"Content-Disposition": f'attachment; filename="{filename}"'})

"""People API: /api/v1/people/, /api/v1/identify/, /api/v1/faces/{id}/label/."""

from __future__ import annotations

from django.core.files.storage import default_storage
from django.http import FileResponse, Http404
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from media_ingest import selectors as catalogue
from media_ingest.query_photos import refuse_oversized_request
from tenants.access import Action
from tenants.api_views import TenantAPIView
from tenants.throttles import MemberRateThrottle

from . import selectors, services
from .errors import PeopleError
from .identify import describe, identify_photo
from .models import ConsentBasis, EnrolledFace, FaceLabel, Person

_PHOTO = {
    "type": "object",
    "properties": {"photo": {"type": "string", "format": "binary"}},
    "required": ["photo"],
}
_ENROL_PHOTO = {
    "type": "object",
    "properties": {
        "photo": {"type": "string", "format": "binary"},
        "face_index": {
            "type": "integer",
            "description": "Which face, as numbered by identify (default: the largest)",
        },
        "source": {"type": "string", "enum": ["upload", "webcam"]},
    },
    "required": ["photo"],
}


class EnrolledFaceSerializer(serializers.ModelSerializer):
    image_url = serializers.SerializerMethodField()

    class Meta:
        model = EnrolledFace
        fields = ["id", "source", "quality", "box", "catalogue_face", "created_at", "image_url"]

    def get_image_url(self, face: EnrolledFace) -> str:
        return reverse("api-person-face-image", args=[face.person_id, face.pk])


class PersonSerializer(serializers.ModelSerializer):
    consent_basis = serializers.ChoiceField(ConsentBasis.choices)
    face_count = serializers.IntegerField(source="face_total", read_only=True, default=0)
    appearance_count = serializers.IntegerField(
        source="appearance_total", read_only=True, default=0
    )
    photo_url = serializers.SerializerMethodField()

    class Meta:
        model = Person
        fields = [
            "id", "name", "external_id", "notes", "consent_basis", "consent_note",
            "consent_recorded_at", "face_count", "appearance_count", "photo_url",
            "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = ["consent_recorded_at", "created_at", "updated_at"]

    def get_photo_url(self, person: Person) -> str | None:
        if person.photo is None:
            return None
        return reverse("api-person-face-image", args=[person.pk, person.photo_id])


class PersonWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    external_id = serializers.CharField(max_length=100, required=False, allow_blank=True)
    notes = serializers.CharField(required=False, allow_blank=True)
    consent_basis = serializers.ChoiceField(ConsentBasis.choices)
    consent_note = serializers.CharField(required=False, allow_blank=True, default="")


class PersonPatchSerializer(PersonWriteSerializer):
    name = serializers.CharField(max_length=200, required=False)
    consent_basis = serializers.ChoiceField(ConsentBasis.choices, required=False)
    consent_note = serializers.CharField(required=False, allow_blank=True)


def _person(person_id: int) -> Person:
    person = selectors.person_get(person_id=person_id)
    if person is None:
        raise Http404("No such person.")
    return person


class PersonListView(TenantAPIView):
    parser_classes = [JSONParser, FormParser, MultiPartParser]

    @extend_schema(
        parameters=[OpenApiParameter("q", str, description="Name, or external id")],
        responses=PersonSerializer(many=True),
    )
    def get(self, request):
        paginator = self.paginator()
        page = paginator.paginate_queryset(
            selectors.person_list(query=request.query_params.get("q", "")), request
        )
        return paginator.get_paginated_response(PersonSerializer(page, many=True).data)

    @extend_schema(request=PersonWriteSerializer, responses={201: PersonSerializer})
    def post(self, request):
        data = PersonWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        person = services.person_create(**data.validated_data, recorded_by=request.user)
        return Response(PersonSerializer(person).data, status=status.HTTP_201_CREATED)


class PersonDetailView(TenantAPIView):
    parser_classes = [JSONParser, FormParser, MultiPartParser]

    @extend_schema(responses=PersonSerializer)
    def get(self, request, person_id: int):
        return Response(PersonSerializer(_person(person_id)).data)

    @extend_schema(request=PersonPatchSerializer, responses=PersonSerializer)
    def patch(self, request, person_id: int):
        data = PersonPatchSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        person = services.person_update(
            person=_person(person_id), recorded_by=request.user, **data.validated_data
        )
        return Response(PersonSerializer(person).data)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "erase",
                bool,
                description="The person asked to be forgotten: their library faces are "
                "kept out of People to name instead of waiting there to be named again",
            )
        ],
        responses={204: None},
    )
    def delete(self, request, person_id: int):
        erase = request.query_params.get("erase", "").lower() in ("1", "true", "yes")
        services.person_delete(person=_person(person_id), erase=erase)
        return Response(status=status.HTTP_204_NO_CONTENT)


class EnrolByFaceSerializer(serializers.Serializer):
    face_id = serializers.IntegerField(help_text="A face of the library (or a track's best face)")


class PersonFacesView(TenantAPIView):
    """Enrol a face: an uploaded photo (its largest face) or a face of the library."""

    parser_classes = [MultiPartParser, JSONParser]
    actions = {"GET": Action.VIEW, "POST": Action.ADD}

    @extend_schema(responses=EnrolledFaceSerializer(many=True))
    def get(self, request, person_id: int):
        faces = selectors.enrolled_faces(person=_person(person_id))
        return Response(EnrolledFaceSerializer(faces, many=True).data)

    @extend_schema(
        request={"multipart/form-data": _ENROL_PHOTO, "application/json": EnrolByFaceSerializer},
        responses={201: EnrolledFaceSerializer},
    )
    def post(self, request, person_id: int):
        person = _person(person_id)
        if "photo" in request.FILES:
            refuse_oversized_request(request)
            source = request.data.get("source", EnrolledFace.Source.UPLOAD)
            if source not in (EnrolledFace.Source.UPLOAD, EnrolledFace.Source.WEBCAM):
                source = EnrolledFace.Source.UPLOAD
            index = request.data.get("face_index")
            if index not in (None, "") and not str(index).isdigit():
                raise PeopleError("face_index is a face's number in the photo.", "invalid")
            enrolled = services.enrol_from_photo(
                person=person,
                photo=request.FILES["photo"],
                user=request.user,
                source=source,
                face_index=int(index) if index not in (None, "") else None,
            )
        else:
            data = EnrolByFaceSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            face = catalogue.face_get(face_id=data.validated_data["face_id"])
            if face is None:
                raise Http404("No such face in this organisation's library.")
            enrolled = services.enrol_from_catalogue(person=person, face=face, user=request.user)
        return Response(EnrolledFaceSerializer(enrolled).data, status=status.HTTP_201_CREATED)


class PersonFaceDetailView(TenantAPIView):
    actions = {"DELETE": Action.DELETE}

    @extend_schema(responses={204: None})
    def delete(self, request, person_id: int, face_id: int):
        enrolled = selectors.enrolled_face_get(person=_person(person_id), face_id=face_id)
        if enrolled is None:
            raise Http404("No such enrolled face.")
        services.enrolled_face_delete(enrolled=enrolled)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PersonFaceImageView(TenantAPIView):
    @extend_schema(responses={(200, "image/jpeg"): bytes})
    def get(self, request, person_id: int, face_id: int):
        enrolled = selectors.enrolled_face_get(person=_person(person_id), face_id=face_id)
        if enrolled is None or not default_storage.exists(enrolled.crop.name):
            raise Http404("No such enrolled face.")
        return FileResponse(
            default_storage.open(enrolled.crop.name, "rb"), content_type="image/jpeg"
        )


class MergeSerializer(serializers.Serializer):
    other = serializers.IntegerField(help_text="The person merged into this one (then deleted)")


class PersonMergeView(TenantAPIView):
    actions = {"POST": Action.CHANGE}

    @extend_schema(request=MergeSerializer, responses=PersonSerializer)
    def post(self, request, person_id: int):
        data = MergeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        keep = _person(person_id)
        other = _person(data.validated_data["other"])
        merged = services.people_merge(keep=keep, other=other)
        return Response(PersonSerializer(selectors.person_get(person_id=merged.pk)).data)


class AppearanceSerializer(serializers.Serializer):
    media_id = serializers.IntegerField()
    media_name = serializers.CharField()
    media_kind = serializers.CharField()
    face_id = serializers.IntegerField()
    similarity = serializers.FloatField(allow_null=True)
    status = serializers.ChoiceField(FaceLabel.Status.choices)
    time_s = serializers.FloatField(allow_null=True)


class PersonAppearancesView(TenantAPIView):
    @extend_schema(responses=AppearanceSerializer(many=True))
    def get(self, request, person_id: int):
        paginator = self.paginator()
        page = paginator.paginate_queryset(
            selectors.appearances(person=_person(person_id)), request
        )
        rows = [selectors.as_appearance(label) for label in page]
        return paginator.get_paginated_response(AppearanceSerializer(rows, many=True).data)


class LabelSerializer(serializers.Serializer):
    person = serializers.IntegerField(required=False, help_text="This face is this person")
    not_person = serializers.IntegerField(required=False, help_text="This face is not them")
    enrol = serializers.BooleanField(
        default=False, help_text="With person: also add the face to their gallery"
    )

    def validate(self, data):
        if ("person" in data) == ("not_person" in data):
            raise serializers.ValidationError("Send either person or not_person.")
        return data


class LabelResponseSerializer(serializers.Serializer):
    face_id = serializers.IntegerField(allow_null=True)
    person_id = serializers.IntegerField(allow_null=True)
    status = serializers.CharField()


class FaceLabelView(TenantAPIView):
    actions = {"POST": Action.CHANGE}

    @extend_schema(request=LabelSerializer, responses=LabelResponseSerializer)
    def post(self, request, face_id: int):
        data = LabelSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        face = catalogue.face_get(face_id=face_id)
        if face is None:
            raise Http404("No such face in this organisation's library.")
        if "person" in data.validated_data:
            person = _person(data.validated_data["person"])
            services.face_confirm(
                face=face, person=person, user=request.user, enrol=data.validated_data["enrol"]
            )
            body = {"face_id": face.pk, "person_id": person.pk, "status": "confirmed"}
        else:
            person = _person(data.validated_data["not_person"])
            services.face_reject(face=face, person=person, user=request.user)
            body = {"face_id": face.pk, "person_id": person.pk, "status": "rejected"}
        return Response(body)


class IdentifyCandidateSerializer(serializers.Serializer):
    person = serializers.DictField()
    similarity = serializers.FloatField()


class IdentifiedFaceSerializer(serializers.Serializer):
    box = serializers.ListField(child=serializers.IntegerField())
    quality = serializers.FloatField()
    person = serializers.DictField(allow_null=True, help_text="{id, name}; null: unknown")
    similarity = serializers.FloatField(allow_null=True)
    threshold = serializers.FloatField()
    reason = serializers.CharField(help_text="Why a scoring face got no name: low-quality")
    candidates = IdentifyCandidateSerializer(many=True)


class IdentifyResponseSerializer(serializers.Serializer):
    faces = IdentifiedFaceSerializer(many=True)
    model = serializers.CharField()
    elapsed_ms = serializers.FloatField()


class IdentifyView(TenantAPIView):
    """Image in, names out: every face of the photo, a person or unknown."""

    parser_classes = [MultiPartParser]
    actions = {"POST": Action.VIEW}
    throttle_classes = [MemberRateThrottle]
    throttle_scope = "identify"

    @extend_schema(
        request={"multipart/form-data": _PHOTO},
        responses={
            200: IdentifyResponseSerializer,
            422: OpenApiResponse(description="No usable photo"),
        },
    )
    def post(self, request):
        refuse_oversized_request(request)
        photo = request.FILES.get("photo")
        if photo is None:
            raise PeopleError("Send the photo in the multipart field 'photo'.", "missing-file")
        return Response(describe(identify_photo(user=request.user, photo=photo)))


_REJECT = {
    "type": "object",
    "properties": {
        "photo": {"type": "string", "format": "binary"},
        "face_index": {"type": "integer", "description": "The face, as numbered by identify"},
        "not_person": {"type": "integer", "description": "The person this face is not"},
    },
    "required": ["photo", "face_index", "not_person"],
}


class IdentifyRejectView(TenantAPIView):
    """ "Not them" on an identified face: never proposed for a face like it again."""

    parser_classes = [MultiPartParser]
    actions = {"POST": Action.CHANGE}
    throttle_classes = [MemberRateThrottle]
    throttle_scope = "identify"

    @extend_schema(request={"multipart/form-data": _REJECT}, responses=LabelResponseSerializer)
    def post(self, request):
        refuse_oversized_request(request)
        photo = request.FILES.get("photo")
        index, person_id = request.data.get("face_index"), request.data.get("not_person")
        if photo is None or not str(index).isdigit() or not str(person_id).isdigit():
            raise PeopleError("Send photo, face_index and not_person.", "invalid")
        person = _person(int(person_id))
        services.identify_reject(
            photo=photo, face_index=int(index), person=person, user=request.user
        )
        return Response({"face_id": None, "person_id": person.pk, "status": "rejected"})

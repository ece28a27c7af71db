"""POST /api/v1/search/: where does this face appear?"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from media_ingest.models import MediaFile, Source
from media_ingest.query_photos import refuse_oversized_request
from tenants.access import Action
from tenants.api_views import TenantAPIView
from tenants.throttles import MemberRateThrottle

from .query import MAX_TOP_K
from .services import DEFAULT_TOP_K, SearchOptions, search_faces


class SearchRequestSerializer(serializers.Serializer):
    # A plain file: the service checks it as an upload is checked (type, size,
    # polyglot, decompression bomb), with the limits for request-time decoding.
    image = serializers.FileField(required=False, help_text="A photo with the face to find.")
    face_id = serializers.IntegerField(required=False, help_text="Or a face already stored.")
    face_index = serializers.IntegerField(
        required=False, min_value=0, help_text="Which face of the photo (default: the largest)."
    )
    top_k = serializers.IntegerField(default=DEFAULT_TOP_K, min_value=1, max_value=MAX_TOP_K)
    threshold = serializers.FloatField(
        required=False,
        min_value=-1,
        max_value=1,
        help_text="Cosine similarity cut-off (default: the model's calibrated threshold).",
    )
    kind = serializers.MultipleChoiceField(choices=MediaFile.Kind.values, required=False)
    source = serializers.MultipleChoiceField(choices=Source.values, required=False)
    created_after = serializers.DateTimeField(required=False)
    created_before = serializers.DateTimeField(required=False)
    person = serializers.IntegerField(
        required=False, help_text="Only faces labelled as this person (photos of them)."
    )

    def validate(self, data):
        if ("image" in data) == ("face_id" in data):
            raise serializers.ValidationError("Send either an image or a face_id.")
        return data

    def options(self) -> SearchOptions:
        data = self.validated_data
        return SearchOptions(
            top_k=data["top_k"],
            threshold=data.get("threshold"),
            kinds=tuple(sorted(data.get("kind", ()))),
            sources=tuple(sorted(data.get("source", ()))),
            created_from=data.get("created_after"),
            created_to=data.get("created_before"),
            face_index=data.get("face_index"),
            person_id=data.get("person"),
        )


class _SearchModelSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    dim = serializers.IntegerField()
    match_threshold = serializers.FloatField(help_text="The model's calibrated threshold.")


class _SearchHitSerializer(serializers.Serializer):
    face_id = serializers.IntegerField()
    media_id = serializers.IntegerField()
    media_name = serializers.CharField()
    media_kind = serializers.ChoiceField(MediaFile.Kind.choices)
    track_id = serializers.IntegerField(allow_null=True)
    similarity = serializers.FloatField()
    time_range = serializers.ListField(child=serializers.FloatField(), allow_null=True)
    frame_time_s = serializers.FloatField(allow_null=True)
    crop_url = serializers.CharField()
    media_url = serializers.CharField()
    is_query_face = serializers.BooleanField(
        help_text="This is the searched face itself (the query photo is in the library)."
    )


class _AppearanceSerializer(serializers.Serializer):
    track_id = serializers.IntegerField()
    start_s = serializers.FloatField()
    end_s = serializers.FloatField()
    similarity = serializers.FloatField()


class _TimelineSerializer(serializers.Serializer):
    media_id = serializers.IntegerField()
    media_name = serializers.CharField()
    duration_s = serializers.FloatField(allow_null=True)
    appearances = _AppearanceSerializer(many=True)


class SearchResponseSerializer(serializers.Serializer):
    model = _SearchModelSerializer()
    threshold = serializers.FloatField()
    query = serializers.DictField(help_text="What was searched: the photo's faces or the face.")
    results = _SearchHitSerializer(many=True)
    timelines = _TimelineSerializer(many=True)
    cached = serializers.BooleanField()


class SearchView(TenantAPIView):
    # A search only reads (and writes its audit row): every member role may search.
    actions = {"POST": Action.VIEW, "OPTIONS": Action.VIEW}
    throttle_classes = [MemberRateThrottle]
    throttle_scope = "search"
    parser_classes = [MultiPartParser, FormParser, JSONParser]
    http_method_names = ["post", "options"]

    @extend_schema(
        request={
            "multipart/form-data": SearchRequestSerializer,
            "application/json": SearchRequestSerializer,
        },
        responses=SearchResponseSerializer,
    )
    def post(self, request):
        refuse_oversized_request(request)
        params = SearchRequestSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        result = search_faces(
            user=request.user,
            options=params.options(),
            image=params.validated_data.get("image"),
            face_id=params.validated_data.get("face_id"),
        )
        return Response(result.as_dict())

"""Clusters API: /api/v1/clusters/ — unknown faces grouped by discovery, to name."""

from __future__ import annotations

from django.http import Http404
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from tenants.access import Action
from tenants.api_views import TenantAPIView

from .. import selectors as people_selectors
from ..api import PersonSerializer
from ..models import ConsentBasis, FaceCluster
from . import selectors, services


class SuggestedPersonSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="person_id")
    name = serializers.CharField()
    faces = serializers.IntegerField(help_text="Faces of the cluster that match them")
    similarity = serializers.FloatField(help_text="The best of those faces' similarity")


class ClusterSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    size = serializers.IntegerField()
    hidden = serializers.BooleanField()
    face_ids = serializers.ListField(child=serializers.IntegerField(), help_text="Best first")
    media_ids = serializers.ListField(child=serializers.IntegerField())
    suggested_person = SuggestedPersonSerializer(allow_null=True)
    url = serializers.CharField(help_text="The cluster's page in the portal")


def _serialized(clusters: list[FaceCluster]) -> list[dict]:
    details = selectors.cluster_details(clusters)
    return ClusterSerializer(
        [
            {
                "id": c.pk,
                "size": c.size,
                "hidden": c.hidden,
                "face_ids": details[c.pk].face_ids,
                "media_ids": details[c.pk].media_ids,
                "suggested_person": details[c.pk].suggestion,
                "url": reverse("cluster-detail", args=[c.pk]),
            }
            for c in clusters
        ],
        many=True,
    ).data


def _cluster(cluster_id: int) -> FaceCluster:
    cluster = selectors.cluster_get(cluster_id=cluster_id)
    if cluster is None:
        raise Http404("No such cluster (it may have been named or merged).")
    return cluster


def _person(person_id: int):
    person = people_selectors.person_get(person_id=person_id)
    if person is None:
        raise Http404("No such person.")
    return person


class ClusterListView(TenantAPIView):
    @extend_schema(
        parameters=[OpenApiParameter("hidden", bool, description="List the hidden clusters")],
        responses=ClusterSerializer(many=True),
    )
    def get(self, request):
        hidden = request.query_params.get("hidden", "").lower() in ("1", "true", "yes")
        paginator = self.paginator()
        page = paginator.paginate_queryset(selectors.cluster_list(hidden=hidden), request)
        return paginator.get_paginated_response(_serialized(list(page)))


class ClusterDetailView(TenantAPIView):
    @extend_schema(responses=ClusterSerializer)
    def get(self, request, cluster_id: int):
        return Response(_serialized([_cluster(cluster_id)])[0])


class ClusterNameSerializer(serializers.Serializer):
    person = serializers.IntegerField(required=False, help_text="An existing person")
    name = serializers.CharField(max_length=200, required=False, help_text="A new person")
    consent_basis = serializers.ChoiceField(ConsentBasis.choices, required=False)
    consent_note = serializers.CharField(required=False, allow_blank=True, default="")

    def validate(self, data):
        if ("person" in data) == ("name" in data):
            raise serializers.ValidationError("Send either person, or name and consent_basis.")
        if "name" in data and "consent_basis" not in data:
            raise serializers.ValidationError(
                {"consent_basis": "A new person needs a consent basis."}
            )
        return data


class ClusterNameView(TenantAPIView):
    """The cluster is a person: a new one, or one already known."""

    actions = {"POST": Action.CHANGE}

    @extend_schema(request=ClusterNameSerializer, responses=PersonSerializer)
    def post(self, request, cluster_id: int):
        data = ClusterNameSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        cluster = _cluster(cluster_id)
        values = data.validated_data
        if "person" in values:
            person = services.cluster_attach(
                cluster=cluster, person=_person(values["person"]), user=request.user
            )
        else:
            person = services.cluster_name(
                cluster=cluster,
                name=values["name"],
                consent_basis=values["consent_basis"],
                consent_note=values["consent_note"],
                user=request.user,
            )
        return Response(PersonSerializer(people_selectors.person_get(person_id=person.pk)).data)


class ClusterFacesSerializer(serializers.Serializer):
    face_ids = serializers.ListField(child=serializers.IntegerField(), min_length=1)


class _ClusterFacesView(TenantAPIView):
    """POST {"face_ids": [...]} to a service that answers a cluster or None."""

    actions = {"POST": Action.CHANGE}
    service = None  # (cluster=, face_ids=, user=) -> FaceCluster | None

    @extend_schema(request=ClusterFacesSerializer, responses=ClusterSerializer(allow_null=True))
    def post(self, request, cluster_id: int):
        data = ClusterFacesSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        cluster = type(self).service(
            cluster=_cluster(cluster_id),
            face_ids=data.validated_data["face_ids"],
            user=request.user,
        )
        return Response(_serialized([cluster])[0] if cluster else None)


class ClusterRemoveView(_ClusterFacesView):
    """These faces are not the cluster's person: never placed with it again.
    Answers the cluster, or null when too few faces were left to keep it."""

    service = services.cluster_remove_faces


class ClusterSplitView(_ClusterFacesView):
    """These faces are another person: a cluster of their own (answered; null
    when a single face was split off and waits in the pool)."""

    service = services.cluster_split


class ClusterMergeSerializer(serializers.Serializer):
    other = serializers.IntegerField(help_text="The cluster merged into this one")


class ClusterMergeView(TenantAPIView):
    actions = {"POST": Action.CHANGE}

    @extend_schema(request=ClusterMergeSerializer, responses=ClusterSerializer)
    def post(self, request, cluster_id: int):
        data = ClusterMergeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        cluster = services.cluster_merge(
            cluster=_cluster(cluster_id),
            other=_cluster(data.validated_data["other"]),
            user=request.user,
        )
        return Response(_serialized([cluster])[0])


class ClusterHideSerializer(serializers.Serializer):
    hidden = serializers.BooleanField(default=True, help_text="false: show it again")


class ClusterHideView(TenantAPIView):
    """Not interesting (a crowd, a poster): no longer listed."""

    actions = {"POST": Action.CHANGE}

    @extend_schema(request=ClusterHideSerializer, responses=ClusterSerializer)
    def post(self, request, cluster_id: int):
        data = ClusterHideSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        cluster = services.cluster_hide(
            cluster=_cluster(cluster_id), hidden=data.validated_data["hidden"]
        )
        return Response(_serialized([cluster])[0])


class ClusterRejectSerializer(serializers.Serializer):
    person = serializers.IntegerField(help_text="The suggested person this cluster is not")


class ClusterRejectView(TenantAPIView):
    """ "Is this Alice?" — no: her name is never proposed for these faces again."""

    actions = {"POST": Action.CHANGE}

    @extend_schema(request=ClusterRejectSerializer, responses=ClusterSerializer)
    def post(self, request, cluster_id: int):
        data = ClusterRejectSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        cluster = _cluster(cluster_id)
        services.cluster_reject_suggestion(
            cluster=cluster, person=_person(data.validated_data["person"]), user=request.user
        )
        return Response(_serialized([cluster])[0])

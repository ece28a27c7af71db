from django.urls import path

from . import api
from .discovery import api as clusters

urlpatterns = [
    path("people/", api.PersonListView.as_view(), name="api-people"),
    path("people/<int:person_id>/", api.PersonDetailView.as_view(), name="api-person"),
    path("people/<int:person_id>/faces/", api.PersonFacesView.as_view(), name="api-person-faces"),
    path(
        "people/<int:person_id>/faces/<int:face_id>/",
        api.PersonFaceDetailView.as_view(),
        name="api-person-face",
    ),
    path(
        "people/<int:person_id>/faces/<int:face_id>/image",
        api.PersonFaceImageView.as_view(),
        name="api-person-face-image",
    ),
    path("people/<int:person_id>/merge/", api.PersonMergeView.as_view(), name="api-person-merge"),
    path(
        "people/<int:person_id>/appearances/",
        api.PersonAppearancesView.as_view(),
        name="api-person-appearances",
    ),
    path("faces/<int:face_id>/label/", api.FaceLabelView.as_view(), name="api-face-label"),
    path("identify/", api.IdentifyView.as_view(), name="api-identify"),
    path("identify/reject/", api.IdentifyRejectView.as_view(), name="api-identify-reject"),
    path("clusters/", clusters.ClusterListView.as_view(), name="api-clusters"),
    path("clusters/<int:cluster_id>/", clusters.ClusterDetailView.as_view(), name="api-cluster"),
    *(
        path(f"clusters/<int:cluster_id>/{verb}/", view.as_view(), name=f"api-cluster-{verb}")
        for verb, view in (
            ("name", clusters.ClusterNameView),
            ("remove", clusters.ClusterRemoveView),
            ("split", clusters.ClusterSplitView),
            ("merge", clusters.ClusterMergeView),
            ("hide", clusters.ClusterHideView),
            ("reject", clusters.ClusterRejectView),
        )
    ),
]

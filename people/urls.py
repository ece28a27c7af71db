from django.urls import path

from . import views
from .discovery import views as clusters

urlpatterns = [
    path("people/", views.people_list, name="people-list"),
    path("people/new/", views.person_new, name="person-new"),
    path("people/threshold/", views.threshold_settings, name="people-threshold"),
    path("people/<int:person_id>/", views.person_detail, name="person-detail"),
    path("people/<int:person_id>/edit/", views.person_edit, name="person-edit"),
    path("people/<int:person_id>/enrol/", views.person_enrol, name="person-enrol"),
    path("people/<int:person_id>/merge/", views.person_merge, name="person-merge"),
    path("people/<int:person_id>/delete/", views.person_delete, name="person-delete"),
    path(
        "people/<int:person_id>/faces/<int:face_id>/delete/",
        views.enrolled_face_delete,
        name="person-face-delete",
    ),
    path("people/to-name/", clusters.clusters_list, name="clusters-list"),
    path("people/to-name/<int:cluster_id>/", clusters.cluster_detail, name="cluster-detail"),
    path(
        "people/to-name/<int:cluster_id>/<slug:verb>/",
        clusters.cluster_action,
        name="cluster-action",
    ),
    path("faces/<int:face_id>/label/", views.face_label, name="face-label"),
    path("identify/", views.identify, name="identify"),
    path("identify/log/", views.identify_audit, name="identify-audit"),
]

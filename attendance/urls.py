from django.urls import path

from . import views

urlpatterns = [
    path("attendance/", views.wall, name="attendance-wall"),
    path("attendance/kiosk/", views.kiosk_page, name="attendance-kiosk"),
    path("attendance/kiosks/", views.kiosks, name="attendance-kiosks"),
    path(
        "attendance/kiosks/<int:kiosk_id>/rotate/",
        views.kiosk_rotate,
        name="attendance-kiosk-rotate",
    ),
    path(
        "attendance/kiosks/<int:kiosk_id>/revoke/",
        views.kiosk_revoke,
        name="attendance-kiosk-revoke",
    ),
    path("attendance/groups/", views.groups, name="attendance-groups"),
    path("attendance/groups/<int:group_id>/", views.group_detail, name="attendance-group"),
    path("attendance/marks/", views.marks, name="attendance-marks"),
    path("attendance/marks/add/", views.mark_add, name="attendance-mark-add"),
    path(
        "attendance/marks/<int:mark_id>/remove/", views.mark_remove, name="attendance-mark-remove"
    ),
    path("attendance/report/", views.report, name="attendance-report"),
]

from django.urls import path

from . import api

urlpatterns = [
    path("attendance/kiosks/", api.KioskListView.as_view(), name="api-attendance-kiosks"),
    path(
        "attendance/kiosks/<int:kiosk_id>/",
        api.KioskDetailView.as_view(),
        name="api-attendance-kiosk",
    ),
    path(
        "attendance/kiosks/<int:kiosk_id>/rotate/",
        api.KioskRotateView.as_view(),
        name="api-attendance-kiosk-rotate",
    ),
    path(
        "attendance/kiosks/<int:kiosk_id>/revoke/",
        api.KioskRevokeView.as_view(),
        name="api-attendance-kiosk-revoke",
    ),
    path("attendance/kiosk/", api.KioskStatusView.as_view(), name="api-attendance-kiosk-status"),
    path("attendance/frames/", api.FrameView.as_view(), name="api-attendance-frames"),
    path("attendance/groups/", api.GroupListView.as_view(), name="api-attendance-groups"),
    path(
        "attendance/groups/<int:group_id>/",
        api.GroupDetailView.as_view(),
        name="api-attendance-group",
    ),
    path("attendance/sessions/", api.SessionListView.as_view(), name="api-attendance-sessions"),
    path(
        "attendance/sessions/<int:session_id>/",
        api.SessionDetailView.as_view(),
        name="api-attendance-session",
    ),
    path("attendance/events/", api.MarkListView.as_view(), name="api-attendance-events"),
    path(
        "attendance/corrections/",
        api.CorrectionListView.as_view(),
        name="api-attendance-corrections",
    ),
    path("attendance/report/", api.ReportView.as_view(), name="api-attendance-report"),
]

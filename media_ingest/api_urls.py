from django.urls import path

from . import api

urlpatterns = [
    path("media/", api.MediaListView.as_view(), name="api-media-list"),
    path("media/batch/", api.MediaBatchView.as_view(), name="api-media-batch"),
    path("media/<int:media_id>/", api.MediaDetailView.as_view(), name="api-media-detail"),
    path("media/<int:media_id>/retry/", api.MediaRetryView.as_view(), name="api-media-retry"),
    path("activity/", api.ActivityView.as_view(), name="api-activity"),
    path("faces/<int:face_id>/image", api.FaceImageView.as_view(), name="api-face-image"),
    path("jobs/<int:job_id>/", api.JobDetailView.as_view(), name="api-job-detail"),
    path("stats/", api.StatsView.as_view(), name="api-stats"),
]

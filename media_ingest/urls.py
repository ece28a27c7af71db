from django.urls import path

from . import views

urlpatterns = [
    path("library/", views.library, name="media-library"),
    path("library/bulk/", views.media_bulk, name="media-bulk"),
    path("library/<int:media_id>/", views.media_detail, name="media-detail"),
    path("library/<int:media_id>/tile/", views.media_tile, name="media-tile"),
    path(
        "library/<int:media_id>/thumbnail/<str:version>.jpg",
        views.media_thumbnail,
        name="media-thumbnail",
    ),
    path("library/<int:media_id>/retry/", views.media_retry, name="media-retry"),
    path("library/<int:media_id>/delete/", views.media_delete, name="media-delete"),
    path("upload/", views.upload, name="media-upload"),
    path("faces/", views.face_browser, name="face-browser"),
]

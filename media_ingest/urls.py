from django.urls import path

from . import views

urlpatterns = [
    path("library/", views.library, name="media-library"),
    path("library/<int:media_id>/", views.media_detail, name="media-detail"),
    path("library/<int:media_id>/delete/", views.media_delete, name="media-delete"),
    path("upload/", views.upload, name="media-upload"),
    path("faces/", views.face_browser, name="face-browser"),
]

from django.urls import path

from . import views

urlpatterns = [
    path("settings/model/", views.recognition_model, name="recognition-model"),
]

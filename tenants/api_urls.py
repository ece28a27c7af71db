from django.urls import path

from . import api

urlpatterns = [
    path("auth/token/", api.TokenLoginView.as_view(), name="api-token"),
    path("auth/logout/", api.TokenLogoutView.as_view(), name="api-logout"),
    path("me/", api.MeView.as_view(), name="api-me"),
]

from django.contrib.auth.views import LogoutView
from django.urls import path

from . import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("accounts/login/", views.PortalLoginView.as_view(), name="login"),
    path("accounts/logout/", LogoutView.as_view(), name="logout"),
    path("members/", views.members, name="members"),
    path("members/<int:member_id>/<slug:verb>/", views.member_action, name="member-action"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("media/<path:path>", views.protected_media, name="protected-media"),
]

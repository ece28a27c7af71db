"""Authentication endpoints of the token API: /api/v1/auth/... and /api/v1/me/."""

from drf_spectacular.utils import extend_schema, inline_serializer
from knox.views import LoginView as KnoxLoginView
from knox.views import LogoutView as KnoxLogoutView
from rest_framework import permissions, serializers
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.response import Response

from .api_views import TenantAPIView
from .security import lockout_response
from .throttles import MemberRateThrottle


class TokenLoginView(KnoxLoginView):
    """Exchange e-mail and password for an expiring token (stored hashed)."""

    authentication_classes = []
    permission_classes = [permissions.AllowAny]
    throttle_classes = [MemberRateThrottle]
    throttle_scope = "auth"

    @extend_schema(
        request=AuthTokenSerializer,
        responses=inline_serializer(
            "TokenResponse",
            {"token": serializers.CharField(), "expiry": serializers.DateTimeField()},
        ),
    )
    def post(self, request, format=None):
        data = dict(request.data)
        if isinstance(data.get("username"), str):
            data["username"] = data["username"].lower()
        serializer = AuthTokenSerializer(data=data, context={"request": request})
        valid = serializer.is_valid()
        if getattr(request, "axes_locked_out", False):
            # The lock-out backend refused to check the password at all.
            return lockout_response(request)
        if not valid:
            raise serializers.ValidationError(serializer.errors)
        request.user = serializer.validated_data["user"]
        return super().post(request, format=format)


class TokenLogoutView(KnoxLogoutView):
    """Revoke the token used for this request."""

    throttle_classes = [MemberRateThrottle]
    throttle_scope = "auth"

    @extend_schema(request=None, responses={204: None})
    def post(self, request, format=None):
        return super().post(request, format=format)


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    role = serializers.CharField(allow_null=True)
    tenant = inline_serializer(
        "MeTenant", {"slug": serializers.CharField(), "name": serializers.CharField()}
    )


class MeView(TenantAPIView):
    """The authenticated user, their role and their tenant."""

    @extend_schema(responses=MeSerializer)
    def get(self, request):
        role = self.principal.role
        tenant = request.tenant
        return Response(
            {
                "id": request.user.pk,
                "email": request.user.email or request.user.username,
                "role": role.value if role else None,
                "tenant": {"slug": tenant.slug, "name": tenant.name},
            }
        )

"""The kiosk key in the OpenAPI schema (drf-spectacular would warn without it)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class KioskKeyScheme(OpenApiAuthenticationExtension):
    target_class = "attendance.auth.KioskKeyAuthentication"
    name = "kioskKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Kiosk <key>`: the key shown once when the kiosk was registered.",
        }

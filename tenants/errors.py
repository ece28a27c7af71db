"""The one error shape: every refusal a service raises carries a machine code,
a sentence for a person and the HTTP status the API answers it with.

Plain Python (no Django import): validation code that runs outside Django
(the video decoder's parent, tests without settings) raises these too.
"""

from __future__ import annotations


class ServiceError(Exception):
    """A request that cannot be done, and why. The API answers it as
    ``{"code": code, "detail": detail, **extra}`` with ``http_status``."""

    http_status = 400

    def __init__(self, detail: str, code: str, *, http_status: int | None = None, **extra):
        super().__init__(detail)
        self.detail = detail
        self.code = code
        if http_status is not None:
            self.http_status = http_status
        self.extra = extra

    def as_dict(self) -> dict:
        return {"code": self.code, "detail": self.detail, **self.extra}

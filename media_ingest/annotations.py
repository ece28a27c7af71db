"""Names on the catalogue's faces, from an app above it (people), without the
catalogue knowing that app.

The people app registers one provider in its ``AppConfig.ready()``; pages
and searches of the catalogue ask it for the names of the faces they show
and for the faces of one person. With no provider (no people app), faces
have no names and person filters match nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from django.db.models import QuerySet
from django.dispatch import Signal

# Sent (inside the tenant's schema) when faces' names changed: anything that
# filtered faces by name, such as cached search results, is stale.
names_changed = Signal()


@dataclass(frozen=True)
class FaceName:
    person_id: int
    name: str
    status: str  # "suggested" | "confirmed"
    similarity: float | None


class FaceNames(Protocol):
    def names(self, face_ids: Iterable[int]) -> dict[int, FaceName]:
        """The current name of each labelled face among ``face_ids``."""

    def named_face_ids(self, person_id: int | None = None) -> QuerySet:
        """A queryset of face ids labelled as ``person_id`` (any person when None)."""

    def face_condition_sql(self, person_id: int) -> tuple[str, list]:
        """A SQL condition on the face table aliased ``f``: labelled as ``person_id``."""

    def people_choices(self) -> list[tuple[int, str]]:
        """(id, name) of the people faces may be filtered by."""


_provider: FaceNames | None = None


def register(provider: FaceNames) -> None:
    global _provider
    _provider = provider


def face_names() -> FaceNames | None:
    return _provider

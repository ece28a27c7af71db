"""Reads about people. Call inside the tenant's schema."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import Lower

from media_ingest.annotations import FaceName

from .models import EnrolledFace, FaceLabel, Person


def _counted() -> QuerySet[Person]:
    return Person.objects.select_related("photo").annotate(
        face_total=Count("faces", distinct=True),
        appearance_total=Count("labels", distinct=True),
    )


def person_list(*, query: str = "") -> QuerySet[Person]:
    """People by name, each with their enrolled faces and appearances counted
    (one query per page, whatever the number of people)."""
    people = _counted()
    query = query.strip()
    if query:
        people = people.filter(Q(name__icontains=query) | Q(external_id__iexact=query))
    return people.order_by(Lower("name"), "id")


def person_get(*, person_id: int) -> Person | None:
    return _counted().select_related("consent_recorded_by").filter(pk=person_id).first()


def enrolled_face_get(*, person: Person, face_id: int) -> EnrolledFace | None:
    return person.faces.filter(pk=face_id).first()


def enrolled_faces(*, person: Person) -> QuerySet[EnrolledFace]:
    return person.faces.defer("embedding").select_related("face_model")


@dataclass(frozen=True)
class Appearance:
    media_id: int
    media_name: str
    media_kind: str
    face_id: int
    similarity: float | None
    status: str
    time_s: float | None


def appearances(*, person: Person) -> QuerySet[FaceLabel]:
    """Where the person appears: their labelled catalogue faces, newest files first."""
    return (
        FaceLabel.objects.filter(person=person)
        .select_related("face__media")
        .defer("face__embedding")
        .order_by("-face__media__created_at", "face__media_id", "face__frame_time_s", "face_id")
    )


def as_appearance(label: FaceLabel) -> Appearance:
    face = label.face
    return Appearance(
        media_id=face.media_id,
        media_name=face.media.original_name,
        media_kind=face.media.kind,
        face_id=face.pk,
        similarity=label.similarity,
        status=label.status,
        time_s=face.frame_time_s,
    )


class PeopleFaceNames:
    """The catalogue's view of labels (media_ingest.annotations): names on faces,
    faces of a person, without the catalogue importing this app."""

    def names(self, face_ids: Iterable[int]) -> dict[int, FaceName]:
        labels = FaceLabel.objects.filter(face_id__in=list(face_ids)).select_related("person")
        return {
            label.face_id: FaceName(
                label.person_id, label.person.name, label.status, label.similarity
            )
            for label in labels
        }

    def named_face_ids(self, person_id: int | None = None) -> QuerySet:
        labels = FaceLabel.objects.all()
        if person_id is not None:
            labels = labels.filter(person_id=person_id)
        return labels.values("face_id")

    def face_condition_sql(self, person_id: int) -> tuple[str, list]:
        return "f.id IN (SELECT face_id FROM people_facelabel WHERE person_id = %s)", [person_id]

    def people_choices(self) -> list[tuple[int, str]]:
        return list(Person.objects.order_by("name").values_list("pk", "name"))

"""Writes about people: the people themselves, their enrolled faces, labels on
catalogue faces, merges. Call inside the tenant's schema.

After any change to a gallery, the tenant's threshold is recalibrated and the
catalogue is matched again for the people concerned, in tenant tasks queued
on commit (``people.tasks``).
"""

from __future__ import annotations

import uuid
from typing import BinaryIO

import numpy as np
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.utils import timezone

from media_ingest.annotations import names_changed
from media_ingest.models import Face
from media_ingest.query_photos import request_photo_pixels
from recognition.quality import pose_angles
from recognition.selectors import current_face_model
from recognition.services import engine_for
from vectors.basis import embeddings_for_storage

from .conf import people_setting
from .embeddings import ENROLLED_TABLE, REJECTED_TABLE
from .errors import EnrolmentRefused, PeopleError
from .faces import check_face, crop_jpeg, the_one_face
from .models import (
    ConsentBasis,
    EnrolledFace,
    FaceLabel,
    FaceRejection,
    IdentifyAudit,
    IdentifyRejection,
    Person,
)
from .signals import person_merging

PERSON_FIELDS = ("name", "external_id", "notes", "consent_basis", "consent_note")


def names_changed_after_commit() -> None:
    """Faces' names changed (labels): once per operation, after it commits."""
    transaction.on_commit(lambda: names_changed.send(sender=FaceLabel))


def _after_gallery_change(person_ids: list[int]) -> None:
    from .tasks import match_catalogue_for_person, recalibrate_threshold

    schema = connection.schema_name
    recalibrate_threshold.enqueue(schema_name=schema)
    for person_id in person_ids:
        match_catalogue_for_person.enqueue(person_id, schema_name=schema)


def _return_to_discovery(face_ids: list[int]) -> None:
    from .tasks import place_faces_again

    place_faces_again.enqueue(face_ids, schema_name=connection.schema_name)


def _check_consent(basis: str, note: str) -> None:
    if basis not in ConsentBasis.values:
        raise PeopleError(
            "Say on what basis this person's face may be processed: "
            + ", ".join(ConsentBasis.values)
            + ".",
            "consent-required",
        )
    if basis == ConsentBasis.OTHER and not note.strip():
        raise PeopleError("A consent basis of 'other' needs a note.", "consent-note-required")


def _check_external_id(external_id: str | None, exclude: int | None = None) -> str | None:
    external_id = (external_id or "").strip() or None
    if external_id is None:
        return None
    taken = Person.objects.filter(external_id=external_id).exclude(pk=exclude).exists()
    if taken:
        raise PeopleError(f"Another person has the external id {external_id!r}.", "duplicate")
    return external_id


def person_create(
    *,
    name: str,
    consent_basis: str,
    consent_note: str = "",
    external_id: str | None = None,
    notes: str = "",
    recorded_by=None,
    consent_document=None,
) -> Person:
    name = (name or "").strip()
    if not name:
        raise PeopleError("A person needs a name.", "name-required")
    _check_consent(consent_basis, consent_note)
    person = Person(
        name=name,
        external_id=_check_external_id(external_id),
        notes=notes,
        consent_basis=consent_basis,
        consent_note=consent_note.strip(),
        consent_recorded_by=recorded_by if getattr(recorded_by, "pk", None) else None,
        consent_recorded_at=timezone.now(),
    )
    person.save()
    if consent_document is not None:
        person_attach_consent_document(person=person, document=consent_document)
    return person


def person_update(*, person: Person, recorded_by=None, **changes) -> Person:
    unknown = set(changes) - set(PERSON_FIELDS)
    if unknown:
        raise PeopleError(f"Unknown fields: {', '.join(sorted(unknown))}.", "invalid")
    if "name" in changes and not (changes["name"] or "").strip():
        raise PeopleError("A person needs a name.", "name-required")
    if "external_id" in changes:
        changes["external_id"] = _check_external_id(changes["external_id"], exclude=person.pk)
    basis = changes.get("consent_basis", person.consent_basis)
    note = changes.get("consent_note", person.consent_note)
    _check_consent(basis, note)
    if "consent_basis" in changes or "consent_note" in changes:
        person.consent_recorded_at = timezone.now()
        person.consent_recorded_by = recorded_by if getattr(recorded_by, "pk", None) else None
    for key, value in changes.items():
        setattr(person, key, value.strip() if isinstance(value, str) else value)
    person.save()
    return person


def person_attach_consent_document(*, person: Person, document) -> Person:
    name = default_storage.save(
        f"people/{person.pk}/consent-{uuid.uuid4().hex}.pdf", ContentFile(document.read())
    )
    person.consent_document = name
    person.save(update_fields=["consent_document", "updated_at"])
    return person


def _rename_in_audits(person_id: int, new_id: int | None) -> None:
    """Point the identification log's answers for ``person_id`` at ``new_id``
    (None: unnamed, the person is gone)."""
    for audit in IdentifyAudit.objects.filter(results__contains=[{"person_id": person_id}]):
        audit.results = [
            {**r, "person_id": new_id} if r.get("person_id") == person_id else r
            for r in audit.results
        ]
        audit.save(update_fields=["results"])


def person_delete(*, person: Person, erase: bool = False) -> None:
    """Remove the person, their enrolled faces (embeddings and crops) and labels;
    audit entries keep the identification but no longer name them.

    The library faces that were theirs are unknown again and go back to
    discovery's pool, to be named anew; with ``erase`` (the person asked to be
    forgotten) they are kept out of discovery for good instead."""
    from .discovery.services import faces_keep_out

    person_id = person.pk
    files = list(person.faces.values_list("crop", flat=True))
    if person.consent_document:
        files.append(person.consent_document.name)
    their_faces = list(
        person.labels.filter(status=FaceLabel.Status.CONFIRMED).values_list("face_id", flat=True)
    )
    with transaction.atomic():
        _rename_in_audits(person_id, None)
        person.delete()
        if erase:
            faces_keep_out(face_ids=their_faces)
        elif their_faces:
            _return_to_discovery(their_faces)

    def remove_files() -> None:
        for name in files:
            default_storage.delete(name)

    transaction.on_commit(remove_files)
    transaction.on_commit(lambda: _after_gallery_change([]))
    names_changed_after_commit()


# ------------------------------------------------------------------ enrolment


def _store_enrolled(
    *, person: Person, face_model, embedding, box, quality, crop: bytes, source, user, face=None
) -> EnrolledFace:
    with transaction.atomic():
        [stored] = embeddings_for_storage(
            table=ENROLLED_TABLE,
            face_model_id=face_model.pk,
            dimension=face_model.embedding_dim,
            vectors=[embedding],
        )
        crop_name = default_storage.save(
            f"people/{person.pk}/{uuid.uuid4().hex}.jpg", ContentFile(crop)
        )
        enrolled = EnrolledFace.objects.create(
            person=person,
            face_model=face_model,
            source=source,
            catalogue_face=face,
            box=[int(v) for v in box],
            quality=float(quality),
            crop=crop_name,
            embedding=stored,
            created_by=user if getattr(user, "pk", None) else None,
        )
        _refresh_photo(person)
    transaction.on_commit(lambda: _after_gallery_change([person.pk]))
    return enrolled


def _refresh_photo(person: Person) -> None:
    best = person.faces.order_by("-quality", "id").first()
    if person.photo_id != (best.pk if best else None):
        person.photo = best
        person.save(update_fields=["photo", "updated_at"])


def enrol_from_photo(
    *,
    person: Person,
    photo: BinaryIO,
    user=None,
    source=EnrolledFace.Source.UPLOAD,
    face_index: int | None = None,
) -> EnrolledFace:
    """Enrol the photo's face: the one at ``face_index`` (in the order
    identification answers), or else the largest, when clearly the largest.
    Raises EnrolmentRefused (422) with the reason: no face, several, too small,
    blurred, turned away; MediaRejected for a file that is not a usable photo."""
    image = request_photo_pixels(photo)
    face_model = current_face_model()
    faces, embeddings = engine_for(face_model).analyze_batch([image])[0]
    if face_index is None:
        chosen = the_one_face(faces)
    elif 0 <= face_index < len(faces):
        chosen = face_index
    else:
        raise EnrolmentRefused(
            f"The photo has {len(faces)} faces: face_index must be 0 to {len(faces) - 1}.",
            "no-such-face",
        )
    face = faces[chosen]
    check_face(image, face)
    return _store_enrolled(
        person=person,
        face_model=face_model,
        embedding=embeddings[chosen],
        box=face.box,
        quality=face.quality,
        crop=crop_jpeg(image, face.box),
        source=source,
        user=user,
    )


def enrol_from_catalogue(
    *, person: Person, face: Face, user=None, source=EnrolledFace.Source.CATALOGUE
) -> EnrolledFace:
    """Enrol a face of the library (a photo's face, or a video track's best face)."""
    if face.enrolments.filter(person=person).exists():
        raise EnrolmentRefused("This face is enrolled for this person already.", "duplicate")
    side = min(face.box[2] - face.box[0], face.box[3] - face.box[1])
    if side < people_setting("ENROL_MIN_FACE_PX"):
        raise EnrolmentRefused(
            f"The face is {side} pixels across; enrolment needs at least "
            f"{people_setting('ENROL_MIN_FACE_PX')}.",
            "face-too-small",
        )
    if pose_angles(np.asarray(face.landmarks, dtype=np.float32))[0] > people_setting(
        "ENROL_MAX_YAW"
    ):
        raise EnrolmentRefused(
            "The face is turned away (in profile): choose one facing the camera.", "face-turned"
        )
    with default_storage.open(face.crop.name, "rb") as handle:
        crop = handle.read()
    # Stored in the tenant's basis already, like every embedding table's rows.
    embedding = np.asarray(face.embedding, dtype=np.float32)
    with transaction.atomic():
        enrolled = EnrolledFace.objects.create(
            person=person,
            face_model=face.face_model,
            source=source,
            catalogue_face=face,
            box=list(face.box),
            quality=face.quality,
            crop=default_storage.save(
                f"people/{person.pk}/{uuid.uuid4().hex}.jpg", ContentFile(crop)
            ),
            embedding=embedding,
            created_by=user if getattr(user, "pk", None) else None,
        )
        _refresh_photo(person)
    transaction.on_commit(lambda: _after_gallery_change([person.pk]))
    return enrolled


def enrolled_face_delete(*, enrolled: EnrolledFace) -> None:
    person = enrolled.person
    crop = enrolled.crop.name
    with transaction.atomic():
        enrolled.delete()
        _refresh_photo(person)
    transaction.on_commit(lambda: default_storage.delete(crop))
    transaction.on_commit(lambda: _after_gallery_change([person.pk]))


def enrolled_faces_move(*, faces: list[EnrolledFace], to: Person) -> int:
    """Move enrolled faces to another person (they were enrolled for the wrong one)."""
    sources = {f.person_id for f in faces}
    with transaction.atomic():
        EnrolledFace.objects.filter(pk__in=[f.pk for f in faces]).update(person=to)
        for person in Person.objects.filter(pk__in=sources | {to.pk}):
            _refresh_photo(person)
    transaction.on_commit(lambda: _after_gallery_change(sorted(sources | {to.pk})))
    return len(faces)


# ------------------------------------------------------------------ labels


def face_confirm(*, face: Face, person: Person, user=None, enrol: bool = False) -> FaceLabel:
    """A member says: this face is ``person``. Optionally enrolled too. The face
    is no longer unknown: it leaves People to name."""
    from .discovery.services import faces_leave_discovery

    with transaction.atomic():
        faces_leave_discovery(face_ids=[face.pk])
        FaceRejection.objects.filter(face=face, person=person).delete()
        label, _ = FaceLabel.objects.update_or_create(
            face=face,
            defaults={
                "person": person,
                "status": FaceLabel.Status.CONFIRMED,
                "similarity": None,
                "labelled_by": user if getattr(user, "pk", None) else None,
            },
        )
        if enrol and not face.enrolments.filter(person=person).exists():
            enrol_from_catalogue(
                person=person, face=face, user=user, source=EnrolledFace.Source.CONFIRMED
            )
    names_changed_after_commit()
    return label


def face_reject(*, face: Face, person: Person, user=None) -> FaceRejection:
    """A member says: this face is not ``person``. Kept for good: never proposed again."""
    with transaction.atomic():
        FaceLabel.objects.filter(face=face, person=person).delete()
        rejection, _ = FaceRejection.objects.get_or_create(
            face=face,
            person=person,
            defaults={"rejected_by": user if getattr(user, "pk", None) else None},
        )
    names_changed_after_commit()
    return rejection


def identify_reject(
    *, photo: BinaryIO, face_index: int, person: Person, user=None
) -> IdentifyRejection:
    """ "Not ``person``" on a face of an identification: that face's embedding is
    kept (never the photo), and the person is not proposed for a face like it
    again, by identification or by suggestions."""
    image = request_photo_pixels(photo)
    face_model = current_face_model()
    faces, embeddings = engine_for(face_model).analyze_batch([image])[0]
    if not 0 <= face_index < len(faces):
        raise EnrolmentRefused(
            f"The photo has {len(faces)} faces: face_index must be 0 to {len(faces) - 1}.",
            "no-such-face",
        )
    with transaction.atomic():
        [stored] = embeddings_for_storage(
            table=REJECTED_TABLE,
            face_model_id=face_model.pk,
            dimension=face_model.embedding_dim,
            vectors=[embeddings[face_index]],
        )
        rejection = IdentifyRejection.objects.create(
            person=person,
            face_model=face_model,
            embedding=stored,
            rejected_by=user if getattr(user, "pk", None) else None,
        )
    transaction.on_commit(lambda: _after_gallery_change([person.pk]))
    return rejection


def people_merge(*, keep: Person, other: Person) -> Person:
    """``other`` becomes ``keep``: their faces, labels and rejections follow."""
    if keep.pk == other.pk:
        raise PeopleError("A person cannot be merged with themselves.", "invalid")
    with transaction.atomic():
        EnrolledFace.objects.filter(person=other).update(person=keep)
        FaceLabel.objects.filter(person=other).update(person=keep)
        already = FaceRejection.objects.filter(person=keep).values_list("face_id", flat=True)
        FaceRejection.objects.filter(person=other, face_id__in=list(already)).delete()
        FaceRejection.objects.filter(person=other).update(person=keep)
        IdentifyRejection.objects.filter(person=other).update(person=keep)
        if not keep.external_id and other.external_id:
            external_id, other.external_id = other.external_id, None
            other.save(update_fields=["external_id"])
            keep.external_id = external_id
        notes = "\n".join(n for n in (keep.notes, other.notes) if n)
        keep.notes = notes
        keep.save()
        # The log's answers were the same person: they follow too.
        _rename_in_audits(other.pk, keep.pk)
        person_merging.send(sender=Person, keep_id=keep.pk, other_id=other.pk)
        person_delete(person=other)
        _refresh_photo(keep)
    transaction.on_commit(lambda: _after_gallery_change([keep.pk]))
    names_changed_after_commit()
    return keep


def enrolled_error(face_id: int) -> EnrolmentRefused:
    return EnrolmentRefused(f"No face {face_id} in this organisation's library.", "not-found")

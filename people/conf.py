"""The PEOPLE settings dict, read through one accessor with defaults."""

from __future__ import annotations

from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    # Enrolment refuses faces that would make a poor reference (measured on
    # ../shared/data/faces, docs/benchmarks.md "People and identification"):
    # the face's smaller side in pixels, its sharpness (recognition.quality's
    # blur score, 0..1) and how far it is turned (yaw: 0 frontal, ~0.5 profile).
    "ENROL_MIN_FACE_PX": 48,
    "ENROL_MIN_SHARPNESS": 0.15,
    "ENROL_MAX_YAW": 0.3,
    # Faces of lower quality than this are never named by identification:
    # they answer unknown, whatever their best score.
    "IDENTIFY_MIN_QUALITY": 0.25,
    # Enrolled faces taken from the index per face, then scored per person.
    "IDENTIFY_SHORTLIST": 16,
    "IDENTIFY_CANDIDATES": 3,
    # The threshold is calibrated from the gallery once it holds this many people.
    "CALIBRATION_MIN_PEOPLE": 20,
    "DEFAULT_TARGET_FAR": 0.001,
    # Discovery (people.discovery): faces below this quality stay out of clusters
    # (counted on the page); each face is placed from this many neighbours found
    # through the index; clusters are listed from this size; naming a cluster
    # enrols up to this many of its best faces for identification; removing a
    # face from a cluster records "not the same" with up to this many members.
    "CLUSTER_MIN_QUALITY": 0.25,
    "CLUSTER_NEIGHBOURS": 16,
    "CLUSTER_MIN_SIZE": 2,
    "CLUSTER_ENROL_FACES": 5,
    "CLUSTER_CANNOT_LINK_MAX": 1000,
}


def people_setting(name: str) -> Any:
    if name not in DEFAULTS:
        raise KeyError(f"unknown PEOPLE setting {name!r}")
    return getattr(settings, "PEOPLE", {}).get(name, DEFAULTS[name])

"""One error family for everything the recognition layer rejects.

Callers (upload views, ingest tasks, the ``models import`` command) catch
``RecognitionError`` and show ``str(exc)``: messages are written for humans.
"""


class RecognitionError(Exception):
    """Base of every error raised on purpose by ``recognition``."""


class ImageError(RecognitionError):
    """The input image cannot be used."""


class UndecodableImage(ImageError):
    """Empty, truncated, corrupt or unsupported image data."""


class ImageTooLarge(ImageError):
    """More pixels than allowed (checked from the header, before decoding)."""


class ModelPackError(RecognitionError):
    """A model pack (directory or zip) is missing parts, corrupt or unsafe."""


class EngineUnavailable(RecognitionError):
    """An engine's runtime or weights are not installed in this environment."""

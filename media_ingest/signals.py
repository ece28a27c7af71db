"""What the catalogue tells the apps above it, which it does not import."""

from django.dispatch import Signal

# Sent after the transaction that stored a file's faces commits, inside the
# tenant's schema: media_id, face_ids, face_model (the FaceModel that embedded them).
faces_stored = Signal()

# Sent inside the transaction that is about to delete a file's faces (the file
# is deleted, or processed again), while they can still be read: media_id.
faces_removing = Signal()

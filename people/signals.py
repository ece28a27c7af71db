"""What people tells the apps above it, which it does not import."""

from django.dispatch import Signal

# Sent inside people_merge's transaction, before ``other`` is deleted, in the
# tenant's schema: keep_id, other_id. Receivers move what they keep of
# ``other`` to ``keep`` (attendance: marks and group memberships), or it is
# deleted with them.
person_merging = Signal()

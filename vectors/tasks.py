"""Each tenant's storage basis for a wide model is fitted once it has enough
embeddings (``vectors.basis``)."""

from __future__ import annotations

import logging

from django.db import connection

from recognition.selectors import active_face_model, current_face_model
from tenants.selectors import tenant_list
from tenants.tasks import tenant_task

from .basis import basis_fit_due, is_wide, refit

logger = logging.getLogger(__name__)


@tenant_task(timeout_s=300)
def fit_basis_if_due() -> bool:
    """Fit the basis of the tenant's model when it is wide, has none yet and
    has reached FIT_MIN_FACES embeddings (rewriting ~10k rows and rebuilding
    their index takes seconds; beyond FIT_AUTO_MAX_FACES it is left to an
    operator). True when it fitted one."""
    model = current_face_model()
    due = basis_fit_due(face_model_id=model.pk, dimension=model.embedding_dim)
    if due is None:
        logger.warning(
            "%s holds too many faces of %s to fit its sketch basis in the background: "
            "run `manage.py face_index fit` (docs/operations.md)",
            connection.schema_name,
            model,
        )
    if not due:
        return False
    done = refit(face_model_id=model.pk, dimension=model.embedding_dim)
    if done.fit is not None:
        logger.info(
            "fitted the %s-D sketch basis of %s on %s faces (sketch energy %.2f -> %.2f)",
            model.embedding_dim,
            connection.schema_name,
            done.fit.sample_rows,
            done.fit.sketch_energy_before,
            done.fit.sketch_energy,
        )
    return done.fit is not None


def fit_bases_everywhere() -> int:
    """Queue the check for every tenant on a wide model; the number queued."""
    tenants = [
        t
        for t in tenant_list().select_related("face_model_choice__face_model")
        if is_wide(active_face_model(tenant=t).embedding_dim)
    ]
    for tenant in tenants:
        fit_basis_if_due.enqueue(schema_name=tenant.schema_name)
    return len(tenants)

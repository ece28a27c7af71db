import pytest

from tests.search.vectors import DIM


@pytest.fixture
def model(db):
    from recognition.models import FaceModel

    model = FaceModel.objects.filter(is_default=True, embedding_dim=DIM).first()
    return model or FaceModel.objects.create(
        name="test-128", version="1", engine="dlib", embedding_dim=DIM, licence="test"
    )

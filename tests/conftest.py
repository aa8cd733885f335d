import pytest
import torch

# Unit tests never touch the user's real cache; each test gets its own folder.
@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path / "cache"))
    torch.manual_seed(0)
    yield

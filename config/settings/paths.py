"""Where the project and its runtime state live (read by every concern module)."""

from pathlib import Path

from .env import env_str

BASE_DIR = Path(__file__).resolve().parents[2]
# Runtime state of a local install: embedded database, media, watch folders.
VAR_DIR = Path(env_str("FACET_VAR_DIR", str(BASE_DIR / "var"))).resolve()

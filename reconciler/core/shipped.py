"""The files b2ckeys ships beside its code: the manifest JSON Schema (`schemas/`) and the
starter-pack manifest (`examples/`). In a clone they are read where they are; an installed
wheel carries them as package data (`reconciler.schemas`, `reconciler.examples`, mapped
to those folders in pyproject.toml), so there is one copy of each and no symlink.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]

# Where b2ckeys lives in public: the repository (its GitHub Action is `b2ckeys/b2ckeys@COMMIT`)
# and the manifest schema's `$id`, a URL that editors and SchemaStore can fetch.
PROJECT_URL = "https://github.com/b2ckeys/b2ckeys"
SCHEMA_URL = "https://raw.githubusercontent.com/b2ckeys/b2ckeys/main/schemas/keysets.schema.json"


def shipped_file(folder: str, name: str) -> Path:
    """`folder/name` of the repository (`schemas` or `examples`), from a clone or from the
    installed package data."""
    in_clone = REPOSITORY / folder / name
    if in_clone.is_file() and (REPOSITORY / "reconciler").is_dir():
        return in_clone
    return Path(str(resources.files(f"reconciler.{folder}") / name))

"""Final stage, export: the plan, meshes and provenance written into the output folder."""

from .manifest import build_manifest, pixel_hash, sha256_file
from .plan_json import PLAN_SCHEMA, write_json

__all__ = ["build_manifest", "pixel_hash", "sha256_file", "PLAN_SCHEMA", "write_json"]

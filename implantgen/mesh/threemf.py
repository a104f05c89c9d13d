"""3MF files (3MF core specification 1.3): millimetres, named objects, metadata, reproducible bytes.

trimesh's exporter is not used: it stamps a random UUID and the wall-clock time into the file and
writes no metadata.  Here the same meshes and metadata always give the same bytes: fixed zip
entry times and attributes, entries and objects in a fixed order, floats written as Python's
shortest round-trip repr (lossless and platform independent).

Vertices are written as they are, in patient millimetres (DICOM LPS); the build items carry no
transform.  A 3MF object of type "model" must be a closed, outward surface: check it (e.g. with
implantgen.mesh.printability) before writing.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import numpy as np
import trimesh

from .. import __version__

CORE_NS = "http://schemas.microsoft.com/3dmanufacturing/core/2015/02"
MODEL_PATH = "3D/3dmodel.model"
# The zip format's own epoch: no wall-clock time in the file.
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
# Not a real date on purpose: a fixed value keeps reruns identical.  Pass metadata["CreationDate"]
# (e.g. from the run's manifest) to record one.
DEFAULT_CREATION_DATE = "1980-01-01"
NOT_CLINICAL = "NOT FOR CLINICAL USE"
# Names the core specification defines; any other name is written in the implantgen namespace.
WELL_KNOWN = {"Title", "Designer", "Description", "Copyright", "LicenseTerms", "Rating",
              "CreationDate", "ModificationDate", "Application"}
IMPLANTGEN_NS = "urn:implantgen:3mf-metadata"
_NCNAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*\Z")  # a metadata name's local part (XML NCName, ASCII)

CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">\n'
    ' <Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>\n'
    ' <Default Extension="model" ContentType="application/vnd.ms-package.3dmanufacturing-3dmodel+xml"/>\n'
    "</Types>\n"
)
RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">\n'
    f' <Relationship Target="/{MODEL_PATH}" Id="rel0" '
    'Type="http://schemas.microsoft.com/3dmanufacturing/2013/01/3dmodel"/>\n'
    "</Relationships>\n"
)


def write_3mf(meshes: dict[str, trimesh.Trimesh], path, metadata: dict[str, str]) -> Path:
    """Write ``meshes`` (name -> mesh, patient mm) as one 3MF file with ``metadata``; returns the path.

    Objects are written in order of name.  Application is always "implantgen <version>"; the
    Description always says NOT FOR CLINICAL USE; Title and CreationDate have fixed defaults.
    """
    if not meshes:
        raise ValueError("no mesh to write")
    model = _model_xml(meshes, _metadata(metadata))
    path = Path(path)
    with zipfile.ZipFile(path, "w") as z:
        for name, text in (("[Content_Types].xml", CONTENT_TYPES), ("_rels/.rels", RELS), (MODEL_PATH, model)):
            # Level 1: a 50k-triangle model compresses 3x faster than at the default level, 20% larger.
            z.writestr(_entry(name), text.encode("utf-8"), compresslevel=1)
    return path


def _entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 3  # Unix, whatever the machine
    info.external_attr = 0o644 << 16
    return info


def _metadata(given: dict[str, str]) -> dict[str, str]:
    meta = {"Title": "implantgen output", "CreationDate": DEFAULT_CREATION_DATE}
    meta.update({str(k): str(v) for k, v in (given or {}).items()})
    meta["Application"] = f"implantgen {__version__}"
    description = meta.get("Description", "").strip()
    if NOT_CLINICAL not in description:
        meta["Description"] = f"{description} {NOT_CLINICAL}.".strip()
    return meta


def _mesh_xml(mesh: trimesh.Trimesh) -> str:
    v = np.asarray(mesh.vertices, dtype=np.float64)
    f = np.asarray(mesh.faces, dtype=np.int64)
    if len(f) == 0:
        raise ValueError("a 3MF object needs at least one triangle")
    if not np.all(np.isfinite(v)):
        raise ValueError("vertex coordinates must be finite")
    if f.min() < 0 or f.max() >= len(v):
        raise ValueError("triangle refers to a missing vertex")
    # One %-format over all rows, a third faster than a format per row: %r of a float is its
    # repr, the shortest string that reads back to the same double.
    vertices = ('<vertex x="%r" y="%r" z="%r"/>\n' * len(v)) % tuple(v.ravel().tolist())
    triangles = ('<triangle v1="%d" v2="%d" v3="%d"/>\n' * len(f)) % tuple(f.ravel().tolist())
    return f"<mesh>\n<vertices>\n{vertices}</vertices>\n<triangles>\n{triangles}</triangles>\n</mesh>\n"


def _model_xml(meshes: dict[str, trimesh.Trimesh], meta: dict[str, str]) -> str:
    names = sorted(meshes)
    lines = ['<?xml version="1.0" encoding="UTF-8"?>\n',
             f'<model unit="millimeter" xml:lang="en-US" xmlns="{CORE_NS}" xmlns:implantgen="{IMPLANTGEN_NS}">\n']
    for key in sorted(meta):
        if key not in WELL_KNOWN and not _NCNAME.match(key):
            raise ValueError(f"metadata name {key!r}: use letters, digits, '_', '-', '.'")
        name = key if key in WELL_KNOWN else f"implantgen:{key}"
        lines.append(f"<metadata name={quoteattr(name)}>{escape(meta[key])}</metadata>\n")
    lines.append("<resources>\n")
    for oid, name in enumerate(names, start=1):
        lines.append(f'<object id="{oid}" type="model" name={quoteattr(str(name))}>\n')
        lines.append(_mesh_xml(meshes[name]))
        lines.append("</object>\n")
    lines.append("</resources>\n<build>\n")
    lines.extend(f'<item objectid="{oid}"/>\n' for oid in range(1, len(names) + 1))
    lines.append("</build>\n</model>\n")
    return "".join(lines)

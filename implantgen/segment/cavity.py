"""A thin dense piece deep inside the trunk is no rib: a calcified vessel, stone or organ.

The ribs and the sternum make the wall of the trunk: every rib comes within a few centimetres
of the body's outline somewhere (measured 12-24 mm on real scans, at most a fifth of the way to
the trunk's centre).  Inside the cavity there is no thin bone: a thin, dense piece whose nearest
voxel to the outline is still most of the way to the trunk's centre is a calcified splenic artery
with contrast in its lumen (abdomen_dicom: 97 mm deep in a trunk 125 mm deep), a stone or a
calcified organ, and naming it a rib by its position alone put it among the bones.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

CAVITY_SHARE = 0.6  # of the trunk's depth (outline to centre) that every voxel of the piece lies beyond
SAMPLE_MM = 6.0  # depth is read on slices this far apart (and each piece's middle one): a rib
# comes near the outline along most of its course, a calcified vessel nowhere


def in_cavity(labels: np.ndarray, candidates, box, parts: np.ndarray, steps, work, spacing) -> list[int]:
    """Labels of ``candidates`` (thin pieces named rib or sternum) lying deep in the trunk.

    ``labels`` is on the full grid's ``box`` (k, j, i slices); ``parts`` is the body on the
    coarse grid (body.body_parts) of the full grid's ``work`` region, with ``steps`` (k, j, i);
    ``spacing`` (i, j, k) mm.  Depth: in-plane distance to the body's outside on that grid."""
    if not candidates:
        return []
    objects = ndimage.find_objects(labels)
    stride = max(1, int(round(SAMPLE_MM / (float(spacing[2]) * steps[0]))))
    pixel = (float(spacing[1]) * steps[1], float(spacing[0]) * steps[2])
    depth = {}
    out = []
    for lab in candidates:
        sub = objects[lab - 1]
        kji = np.argwhere(labels[sub] == lab) + [s.start + b.start - w.start for s, b, w in zip(sub, box, work)]
        c = np.minimum(kji // np.asarray(steps), np.asarray(parts.shape) - 1)
        ks = np.unique(c[:, 0])
        ks = np.union1d(ks[ks % stride == 0], ks[len(ks) // 2])
        for k in ks:
            if k not in depth:
                depth[k] = ndimage.distance_transform_edt(parts[k] > 0, sampling=pixel)
        near = min(float(depth[k][c[c[:, 0] == k, 1], c[c[:, 0] == k, 2]].min()) for k in ks)
        trunk = max(float(depth[k].max()) for k in ks)
        if near > CAVITY_SHARE * trunk:
            out.append(lab)
    return out

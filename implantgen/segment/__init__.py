"""Stage 2, segmentation: bones (and, in other modules, lesions) on a CT Volume.

Public functions:
    segment_bones(volume, *, roi=None) -> BoneSegmentation   (bones.py)
"""

from .bones import segment_bones

__all__ = ["segment_bones"]

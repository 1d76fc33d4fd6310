"""Torch Datasets over the kit's folder layouts (real files or the sample scene), one module per
layout on a shared base (:mod:`.base`):

- :class:`SEN12MS` (:mod:`.sen12ms`): ``ROIs1158_spring/{s1,s2,lc}_{scene}/ROIs1158_spring_{s1,s2,lc}_{scene}_p{patch}.tif``
- :class:`DFC2020` (:mod:`.dfc2020`): ``ROIs0000_{validation,test}/{s1,s2,lc,dfc}_0/...`` and the
  Copernicus-Bench zip
- :class:`NTL` (:mod:`.ntl`): ``{split}/{lr_ntl,hr_ntl,dmo,dem,isp}/{id}.tif``
- :class:`Scene` (:mod:`.scene`): any co-registered image files + a label raster or polygons
  (the ``scene/`` folder of the sample, a real scene, your own rasters), its grid side in
  :mod:`helpers.data.scene_grid`

Any of these is streamed from disk per rank and worker by :class:`Streaming`
(:mod:`.streaming`). Windows and flips come from
:mod:`helpers.data.windows`; normalisation and the value checks from :mod:`helpers.data.normalise`; layout
names from :mod:`helpers.data.layouts`.
"""

from __future__ import annotations

from .base import IGNORE, SCHEMES, Patch, PatchDataset, find_patches, parse_id, read_id_list
from .dfc2020 import DFC2020
from .ntl import NTL
from .scene import Scene
from .sen12ms import SEN12MS
from .streaming import Streaming

__all__ = [
    "DFC2020",
    "IGNORE",
    "NTL",
    "SCHEMES",
    "SEN12MS",
    "Scene",
    "Streaming",
    "Patch",
    "PatchDataset",
    "find_patches",
    "parse_id",
    "read_id_list",
]

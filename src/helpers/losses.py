"""Losses of the kit: label super-resolution (Malkin et al.), GAN losses, and the NTL SR objective."""

from __future__ import annotations

# ---- land cover: label super-resolution and GAN losses (notebooks 04, 05) ----

# ---- night lights: multi-scale L1 and ISP auxiliary loss (notebooks 08, 09) ----

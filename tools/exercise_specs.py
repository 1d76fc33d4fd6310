"""The registry of tools/exercise_outcomes.py: how each notebook exercise is run or answered.

One entry per exercise, keyed "NN.k" (notebook NN, exercise k). ``kind``:
- ``variant``: ``variants`` (letter -> papermill ``params`` and/or a ``snippet`` inserted after the
  settings cell, or after the first code cell containing ``after``); ``values``: name -> expression
  evaluated in the kernel at the end of the run (the same expressions are read in the baseline run);
- ``concept``: ``answer`` (a template) and ``numbers`` (name -> (notebook, method substring, dotted
  field of the record)) filled from a reference run's records;
- ``outside``: ``answer`` says what it needs that this machine does not have.
"""

from __future__ import annotations

from typing import Any


def rec(metric: str, notebook: str) -> str:
    """An expression: this run's records of ``notebook`` as {method: metrics[metric]}."""
    return (
        "{r['method']: r['metrics'][" + repr(metric) + "] for r in map(__import__('json').loads, "
        "open(__import__('os').environ['EOSR_RUN_DIR'] + '/results.jsonl')) "
        f"if r['notebook'].startswith({notebook!r}) and " + repr(metric) + " in r['metrics']}"
    )


def per_class(notebook: str, method: str) -> str:
    """An expression: per-class IoU of the newest record of ``notebook`` whose method starts with ``method``."""
    return (
        "[{k: v for k, v in r['per_class_iou'].items() if v is not None} for r in map(__import__('json').loads, "
        "open(__import__('os').environ['EOSR_RUN_DIR'] + '/results.jsonl')) "
        f"if r['notebook'].startswith({notebook!r}) and r['method'].startswith({method!r}) and r.get('per_class_iou')][-1]"
    )


def std(metric: str, notebook: str) -> str:
    """An expression: this run's records of ``notebook`` as {method: std[metric]} (the spread over seeds)."""
    return (
        rec(metric, notebook)
        .replace("r['metrics'][", "r['std'][", 1)
        .replace(" in r['metrics']}", " in r.get('std', {})}")
    )


U03 = {"macro IoU": "ours['iou']", "accuracy": "ours['accuracy']", "parameters": "n_params",
       "per-class IoU": "dict(zip(names, scores.iou))"}  # fmt: skip
B06 = {"test macro IoU": "test_scores.summary()['iou']", "train macro IoU": "train_scores.summary()['iou']",
       "oracle IoU (colour)": "ORACLE['colour']['iou']", "oracle IoU (slic)": "ORACLE['slic']['iou']"}  # fmt: skip
N08 = {"PSNR": rec("psnr", "08"), "lit MAE": rec("mae_lit", "08"), "saturated MAE": rec("saturated_mae", "08"),
       "total light error": rec("total_light_error", "08")}  # fmt: skip
A09 = {"PSNR (mean over seeds)": rec("psnr", "09"), "lit MAE": rec("mae_lit", "09"),
       "lit warp error (coarse px)": rec("lit_warp_rms_coarse_px", "09")}  # fmt: skip
R11 = {"macro IoU": rec("iou", "11"), "accuracy": rec("accuracy", "11"),
       "U-Net per-class IoU": per_class("11", "U-Net (")}  # fmt: skip
R13 = {"macro IoU": rec("iou", "13")}
LOSS11 = "{f'epoch {i + 1}': float(history.train_loss[i]) for i in sorted({0, len(history.train_loss) // 2, len(history.train_loss) - 1})}"
RANK13 = "{m: float(i + 1) for i, m in enumerate(sorted(SUMMARIES, key=lambda m: -SUMMARIES[m]['mean']['iou']))}"
CELLS13 = "{f'{RATIO_NAME[r]} {h}': COARSE[r][h]['labelled_cells'] for r in RATIOS for h in ('west', 'east')}"
L04 = {"macro IoU": rec("iou", "04")}
SIGMA2 = "STATS = {r: {**st, 'sigma2': st['sigma2'] * %g} for r, st in STATS.items()}\nmu, sigma2 = STATS['x50']['mu'], STATS['x50']['sigma2']"
RANK04 = "{f'{RATIO_NAMES[r]}, {v}': losses.truth_rank(p)[0] for r in LAYERS for v, p in preference[r].items()}"
G05 = {"macro IoU": rec("iou", "05")}
N12 = {"lit RMSE": rec("rmse_lit", "12"), "total light error": rec("total_light_error", "12")}
SECONDS05 = (
    "{r['method']: float(r['seconds']) for r in map(__import__('json').loads, "
    "open(__import__('os').environ['EOSR_RUN_DIR'] + '/results.jsonl')) "
    "if r['notebook'].startswith('05') and r.get('seconds')}"
)
W03 = "helpers.show_source(landcover.unet)"

SPECS: dict[str, dict[str, Any]] = {
    # 00 setup and tour
    "00.1": {
        "kind": "variant",
        "variants": {"": {"params": {"PROFILE": "smoke"}}},
        "values": {
            "scene GeoTIFFs": "len(tifs)",
            "scene size (px)": "float(rasters.read(paths.scene / 'dfc.tif').data.shape[-1])",
        },
        "look_at": "the profile table's rows for smoke and teaching, and the sample scene's size.",
    },
    "00.2": {
        "kind": "variant",
        "variants": {"": {}},
        "values": {
            "CRS": "str(rasters.read(paths.scene / 'dfc.tif').crs)",
            "pixel size (m)": "abs(rasters.read(paths.scene / 'dfc.tif').transform.a)",
        },
        "look_at": "what `gdalinfo data/sample/<profile>/scene/dfc.tif` (or QGIS's layer properties) prints; the values here are read by the kit from the same file.",
    },
    "00.3": {
        "kind": "concept",
        "answer": "`helpers.core.config.pick_device` prefers CUDA, then Apple's `mps` when `torch.backends.mps.is_available()`, then the CPU; this reference run had neither GPU (device `{device}`).",
        "numbers": {"device": ("00", "GeoTIFF round trip", "device")},
    },
    # 01 Earth Engine
    "01.1": {
        "kind": "outside",
        "answer": "needs Earth Engine credentials (none on this machine). Without them the notebook falls back to the sample scene; its record gives the request count of the default 100 km AOI as a yardstick.",
    },
    "01.2": {
        "kind": "outside",
        "answer": "needs Earth Engine (cloudy-month Sentinel-2 composites are not in the sample scene).",
    },
    "01.3": {
        "kind": "concept",
        "answer": "30 m does not divide 100 m (100/30 is not whole), so a grid snapped to 100 m starts 30 m cells at offsets that are not multiples of 30 m from the 240 m cells' corners: blocks no longer nest. With the default 240 m snap (a multiple of 10, 30 and 240 m) the reference run's grid checks all passed (share {checks:.0%}).",
        "numbers": {"checks": ("01", "sample scene fallback", "metrics.grid_checks_passed")},
    },
    "01.4": {
        "kind": "variant",
        "variants": {
            "": {
                "snippet": "EX_DL = gee.plan_chunks(big.shape, 12, 'uint16', method='getDownloadURL')\nprint(len(EX_DL), 'getDownloadURL requests for the 100 km AOI')",
                "after": "big = specs.nested_grids(",
            }
        },
        "values": {
            "requests, computePixels": "len(gee.plan_chunks(big.shape, 12, 'uint16'))",
            "requests, getDownloadURL": "len(EX_DL)",
        },
        "look_at": "the request count for the 100 km AOI: getDownloadURL's limits (32 MiB, 10,000 px a side in `earthengine.LIMITS`) are tighter than computePixels' (48 MiB).",
    },
    # 02 labels
    "02.1": {
        "kind": "concept",
        "answer": "in the reference run the lowest per-class agreement of the coarse (500 m) map with the fine labels was Water ({water:.2f}) and Wetlands ({wetlands:.2f}), against Croplands {crops:.2f} and Forest {forest:.2f}: narrow rivers, ponds and wetland strips are far smaller than a 500 m cell, so a coarse product assigns their pixels to the surrounding class.",
        "numbers": {
            "water": ("02", "agreement", "metrics.agreement Water"),
            "wetlands": ("02", "agreement", "metrics.agreement Wetlands"),
            "crops": ("02", "agreement", "metrics.agreement Croplands"),
            "forest": ("02", "agreement", "metrics.agreement Forest"),
        },
    },
    "02.2": {
        "kind": "concept",
        "answer": "SEN12MS has no fine label, so two seasons of the same scheme measure how stable the coarse product is over a year (label change and classification noise), not resolution; the fine-vs-coarse agreement of DFC2020 in the reference run was {overall:.2f} (kappa {kappa:.2f}), the yardstick such a seasonal agreement would be read against.",
        "numbers": {
            "overall": ("02", "agreement", "metrics.overall_agreement"),
            "kappa": ("02", "agreement", "metrics.kappa"),
        },
    },
    "02.3": {
        "kind": "outside",
        "answer": "a visual task in the interactive patch browser (SWIR composites separate water, bare soil and built-up better than RGB); nothing to measure headless.",
    },
    "02.4": {
        "kind": "variant",
        "variants": {
            "": {
                "snippet": "EX_GONE = [v for v, n in labels.DFC.items() if v not in labels.DFC8]  # savanna (3), snow/ice (8)\n_d8 = datasets.DFC2020(DFC2020_ROOT, split='test', label='dfc8')\n_d = datasets.DFC2020(DFC2020_ROOT, split='test', label='dfc')\n_n = min(8, len(_d))\n_fine = np.stack([_d[i]['mask'].numpy() for i in range(_n)])\n_m8 = np.stack([_d8[i]['mask'].numpy() for i in range(_n)])\nEX_N = int(np.isin(_fine, EX_GONE).sum())\nEX_SHARE = float((_m8[np.isin(_fine, EX_GONE)] == 255).mean()) if EX_N else float('nan')\nEX_MAPPED = float((labels.to_train_index(np.array(EX_GONE)) == 255).all())  # the mapping dfc8 applies",
                "after": "splits[split] = datasets.DFC2020",
            }
        },
        "values": {
            "savanna and snow/ice pixels (label='dfc', 8 test patches)": "EX_N",
            "share of them that read 255 with label='dfc8'": "EX_SHARE",
            "savanna and snow/ice both map to 255 (1 = yes)": "EX_MAPPED",
        },
        "look_at": 'every savanna (3) or snow/ice (8) pixel must read 255 with `label="dfc8"`; the sample scene holds none of them (its pixel count is 0 and the share nan), so the mapping itself (`labels.to_train_index`) is what can be checked here.',
    },
    "02.5": {
        "kind": "outside",
        "answer": "a reading task with no number to measure. As the notebook and `helpers.core.bands` note, the set takes B10 (cirrus) where B11 (SWIR) was meant, through an index slip; the kit selects bands by name, never by index, so it cannot make that slip.",
    },
    # 03 U-Net
    "03.1": {
        "why": "vegetation reflects strongly in the near infrared (B08) and weakly in red; without B08 the classes that differ mainly in how green they are (forest, shrubland, grassland, croplands) have only visible colour to tell them apart.",
        "kind": "variant",
        "variants": {"": {"params": {"BANDS": "RGB"}}},
        "values": U03,
        "look_at": "macro IoU and the per-class IoU of the vegetation classes (forest, shrubland, grassland, croplands).",
    },
    "03.2": {
        "kind": "variant",
        "values": U03,
        "variants": {
            "a": {"snippet": "S = {**S, 'depth': 2}; DEPTH = 2"},
            "b": {"snippet": "S = {**S, 'depth': 4}; DEPTH = 4"},
            "c": {"snippet": "S = {**S, 'width': 8}; WIDTH = 8"},
            "d": {"snippet": "S = {**S, 'width': 32}; WIDTH = 32"},
        },
        "look_at": "macro IoU against the parameter count.",
    },
    "03.3": {
        "kind": "variant",
        "variants": {
            "": {
                "snippet": "import functools\nlandcover.UNet = functools.partial(UNet, up='transposed')",
                "after": W03,
            }
        },
        "values": U03,
        "look_at": "the whole-region map (section 5) for a regular checkerboard, and macro IoU. (The parameter count here is the one the notebook prints for its bilinear model; the trained transposed model has more.)",
    },
    "03.4": {
        "kind": "variant",
        "variants": {
            "": {
                "snippet": "import functools\n_masks = np.stack([train_patches[i]['mask'].numpy() for i in range(len(train_patches))])\nlandcover.unet = functools.partial(landcover.unet, loss=landcover.weighted_cross_entropy(landcover.class_weights(_masks, NUM_CLASSES)))",
                "after": W03,
            }
        },
        "values": U03,
        "look_at": "macro IoU against overall accuracy: weights trade the common classes' pixels for the rare ones'.",
    },
    "03.5": {
        "kind": "concept",
        "answer": "training resumes at the epoch after the last checkpoint and ends with the same weights as an uninterrupted run (`tests/test_checkpoint_faults.py` and `tests/test_train.py` check it); the reference run trained its U-Net for the whole schedule ({notes}).",
        "numbers": {"notes": ("03", "U-Net", "notes")},
    },
    # 04 label SR (runs of 04 take minutes each: variants listed, measured when a quiet machine is free)
    "04.1": {"kind": "variant", "variants": {"": {"params": {"USE_PRIOR": True}}}, "values": L04},
    "04.2": {
        "kind": "variant",
        "variants": {
            "": {
                "snippet": "import functools\nlosses.LabelSRLoss = functools.partial(losses.LabelSRLoss, log_term=False)"
            }
        },
        "values": L04,
    },
    "04.3": {
        "kind": "variant",
        "variants": {
            "a": {"snippet": SIGMA2 % 10, "after": "STATS = {r: recipe.statistics("},
            "b": {"snippet": SIGMA2 % 0.1, "after": "STATS = {r: recipe.statistics("},
        },
        "values": {**L04, "rank of the true map (1 = preferred)": RANK04},
        "look_at": "a: sigma2 x 10, b: sigma2 x 0.1 (both ratios); the rank each loss variant gives the true map in section 3, and the label-SR rows.",
    },
    "04.4": {
        "kind": "variant",
        "variants": {
            "a": {"snippet": "BLOCKS['x50'] = 25", "after": "BLOCKS ="},
            "b": {"snippet": "BLOCKS['x50'] = 100", "after": "BLOCKS ="},
        },
        "values": L04,
    },
    "04.5": {
        "kind": "concept",
        "answer": "a student's design exercise (load the naive model's weights into the label-SR model); the reference run's 500 m rows give the two ends it is judged against: naive U-Net {naive:.3f}, label SR {lsr:.3f} macro IoU.",
        "numbers": {
            "naive": ("04", "naive U-Net on coarse labels", "metrics.iou"),
            "lsr": ("04", "label SR (Malkin", "metrics.iou"),
        },
    },
    "04.6": {
        "kind": "variant",
        "variants": {"": {"snippet": "S |= {'crop': 256, 'batch': 1, 'samples': 16}"}},
        "values": L04,
    },
    "04.7": {
        "kind": "outside",
        "answer": "a longer design exercise (new coarse classes and statistics); not scripted as a variant here. The notebook's summary states the expectation: label SR can still split a merged class only where the class is a consistent mixture.",
    },
    "04.8": {
        "kind": "variant",
        "variants": {"": {"params": {"LSR_VARIANT": "reference"}}},
        "values": L04,
    },
    # 05 GANs (each run trains several GANs over seeds: minutes)
    "05.1": {
        "kind": "variant",
        "variants": {
            "a": {
                "snippet": "import functools\nfrom helpers.training import train as _train\n_train.fit_gan = functools.partial(_train.fit_gan, lambda_l1=0.0)"
            },
            "b": {
                "snippet": "_settings = gan_recipe.settings\ngan_recipe.settings = lambda profile=None, **o: _settings(profile, **{'gan_weight': 0.0, 'cgan_gan_weight': 0.0, **o})"
            },
        },
        "values": G05,
        "look_at": "a: the pure GAN (no L1), b: L1 alone (the adversarial term of G weighted 0); compare the maps' class borders and macro IoU.",
    },
    "05.2": {
        "kind": "variant",
        "variants": {
            "": {
                "snippet": "import functools\nfrom helpers.training import train as _train\n_train.fit_gan = functools.partial(_train.fit_gan, gan_mode='lsgan')"
            }
        },
        "values": G05,
        "look_at": "D's loss curves (section 8) and macro IoU.",
    },
    "05.3": {
        "kind": "outside",
        "answer": "a coding exercise (write a `batch_fn` stacking coarse one-hot labels and S2 bands); no variant scripted.",
    },
    "05.4": {
        "kind": "outside",
        "answer": "a coding exercise (predict with `G.train()`); no variant scripted.",
    },
    "05.5": {
        "kind": "variant",
        "variants": {
            "": {
                "snippet": "_settings = gan_recipe.settings\ngan_recipe.settings = lambda profile=None, **o: _settings(profile, **{'crop': 256, 'batch': 1, **o})"
            }
        },
        "values": {**G05, "seconds": SECONDS05},
        "look_at": "the seconds of each GAN row against the profile's crop of 64 px and batch of 8.",
    },
    "05.6": {
        "kind": "variant",
        "variants": {
            "": {
                "snippet": "from helpers.models import pix2pix as _p2p\n_p2p.TARGET_SCALE = 1.0",
                "after": "KEPT = gan_recipe.kept_epochs(cgan)",
            }
        },
        "values": G05,
        "look_at": "the pix2pix (tanh) row: the cGANs train before the change (their residual start takes atanh of the targets, infinite at 1.0).",
    },
    "05.7": {
        "kind": "outside",
        "answer": 'a coding exercise (pass `output="softmax"` to the cGAN\'s training call); no variant scripted.',
    },
    "05.8": {
        "kind": "variant",
        "variants": {"": {"snippet": "SEEDS = [SEED + k for k in range(5)]"}},
        "values": {**G05, "macro IoU std over seeds": std("iou", "05")},
    },
    # 06 bag of colours
    "06.1": {
        "why": "HR-MARS segments by colour alone (`method='colour'`: k-means on pixel colours, a segment's pixels need not touch); SLIC-like segments add the pixel coordinates, so they drop the assumption that one colour cluster is one object, wherever it lies in the patch.",
        "kind": "variant",
        "variants": {
            "": {
                "snippet": "import functools\nboc.BagOfColors = functools.partial(boc.BagOfColors, method='slic')",
                "after": "helpers.show_source(boc.BagOfColors)",
            }
        },
        "values": B06,
        "look_at": "test macro IoU and the two oracles (the oracle table is computed for both methods in every run).",
    },
    "06.2": {
        "kind": "variant",
        "values": B06,
        "variants": {
            "a": {"snippet": "WORDS = 8"},
            "b": {"snippet": "WORDS = 20"},
            "c": {"snippet": "WORDS = 200"},
            "d": {"snippet": "SEGMENTS = 8"},
            "e": {"snippet": "SEGMENTS = 50"},
        },
        "look_at": "test IoU and the colour oracle against WORDS (80 in the profile) and SEGMENTS (20).",
    },
    "06.3": {
        "kind": "variant",
        "variants": {
            "": {
                "snippet": "def _ndvi(imgs):\n    return [np.concatenate([i, (i[3:4] - i[0:1]) / (i[3:4] + i[0:1] + 1e-6)]) for i in imgs]\ntrain_images, test_images = _ndvi(train_images), _ndvi(test_images)",
                "after": "train_images, train_masks, _ = load(",
            }
        },
        "values": B06,
        "look_at": "test macro IoU with a fifth, NDVI band.",
    },
    "06.4": {
        "why": "a frequency-weighted IoU weighs large classes more than a macro F1 does; a mismatch of averagings (not one averaging) can make an F1 fall below an IoU, as HR-MARS's testing row does.",
        "kind": "variant",
        "variants": {
            "": {
                "snippet": "_c = test_scores.confusion.astype(float)\n_tp = np.diag(_c)\n_iou = _tp / np.maximum(_c.sum(0) + _c.sum(1) - _tp, 1)\n_f1 = 2 * _tp / np.maximum(_c.sum(0) + _c.sum(1), 1)\nEX_FWIOU = float((_c.sum(1) / _c.sum() * _iou).sum())\nEX_MACRO_F1 = float(_f1[_c.sum(1) > 0].mean())",
                "after": "averages = metrics.averagings",
            }
        },
        "values": {
            "frequency-weighted IoU": "EX_FWIOU",
            "macro F1": "EX_MACRO_F1",
            "macro IoU": "test_scores.summary()['iou']",
        },
        "look_at": "whether F1 < IoU (HR-MARS's testing row) can come from any pair of averagings.",
    },
    # 07 night-light preparation
    "07.1": {
        "kind": "concept",
        "answer": "the notebook already fits the straight line beside the power law (section 8): on the reference run the power law's exponent was {power:.2f} (R2 {r2:.3f} aligned), the straight line's gain {gain_lin:.2f} against the power fit's {gain:.2f}; the straight line's residuals sit at the bright end, where the power below 1 bends the curve.",
        "numbers": {
            "power": ("07", "NTL", "metrics.calibration_power"),
            "r2": ("07", "NTL", "metrics.calibration_r2_aligned"),
            "gain_lin": ("07", "NTL", "metrics.calibration_gain_linear"),
            "gain": ("07", "NTL", "metrics.calibration_gain"),
        },
    },
    "07.2": {
        "why": "DMSP-like lights are the fine lights blurred by the sensor's PSF (blooming) before aggregation: with no PSF the fit compares unblurred blocks with blurred ones, and a PSF wider than the scene's blurs too much.",
        "kind": "variant",
        "variants": {
            "a": {
                "snippet": "psf_sigma = [0.0 * s for s in psf_sigma]",
                "after": "psf_sigma = truth.get(",
            },
            "b": {
                "snippet": "psf_sigma = [2.0 * s for s in psf_sigma]",
                "after": "psf_sigma = truth.get(",
            },
        },
        "values": {
            "calibration R2 (PSF)": "fit_psf.r2",
            "calibration R2 (aligned)": "fit_aligned.r2",
        },
        "look_at": "the calibration R2 with no PSF, the scene's PSF and a PSF twice as wide.",
    },
    "07.3": {
        "kind": "variant",
        "variants": {
            "a": {
                "snippet": "clean = ntl.denoise(noisy, min_neighbours=1)\nremoved = float(np.mean(clean[isolated] < 1.0)) if isolated.any() else 1.0\nkept = ntl.total_light(clean * (isp.data[0] > 0)) / max(ntl.total_light(fine * (isp.data[0] > 0)), 1e-9)",
                "after": "clean = ntl.denoise(noisy)",
            },
            "b": {
                "snippet": "clean = ntl.denoise(noisy, min_neighbours=4)\nremoved = float(np.mean(clean[isolated] < 1.0)) if isolated.any() else 1.0\nkept = ntl.total_light(clean * (isp.data[0] > 0)) / max(ntl.total_light(fine * (isp.data[0] > 0)), 1e-9)",
                "after": "clean = ntl.denoise(noisy)",
            },
            "c": {
                "snippet": "clean = ntl.denoise(noisy, min_neighbours=6)\nremoved = float(np.mean(clean[isolated] < 1.0)) if isolated.any() else 1.0\nkept = ntl.total_light(clean * (isp.data[0] > 0)) / max(ntl.total_light(fine * (isp.data[0] > 0)), 1e-9)",
                "after": "clean = ntl.denoise(noisy)",
            },
        },
        "values": {
            "isolated spikes removed": "removed",
            "light on impervious pixels kept": "kept",
            "RMSE vs clean lights": "rmse(clean, fine)",
        },
        "look_at": "`min_neighbours` (2 by default): how many lit neighbours a pixel needs to stay lit; the light kept on impervious pixels falls when villages start to vanish.",
    },
    "07.4": {
        "kind": "variant",
        "variants": {
            "": {
                "snippet": "EX_W = ntl.spatially_weighted_average(ups['bicubic + total'], sigma=1.0, weights=impervious.data[0].astype(float) + 0.05)",
                "after": "up = ntl.resample(calibrated, RATIO",
            }
        },
        "values": {
            "RMSE vs fine, bicubic + total": "rmse(ups['bicubic + total'], fine)",
            "RMSE vs fine, then impervious-weighted average": "rmse(EX_W, fine)",
        },
        "look_at": "the RMSE against the fine lights before and after the impervious-weighted average.",
    },
    "07.5": {
        "kind": "concept",
        "answer": "the notebook estimates the shift both ways: on the reference run the error was {full:.3f} coarse px with the PSF and saturation mask and {plain:.3f} coarse px without them (true shift {dy:.3f}, {dx:.3f} px).",
        "numbers": {
            "full": ("07", "NTL", "metrics.shift_error_lr_px"),
            "plain": ("07", "NTL", "metrics.shift_error_plain_lr_px"),
            "dy": ("07", "NTL", "metrics.true_dy_lr_px"),
            "dx": ("07", "NTL", "metrics.true_dx_lr_px"),
        },
    },
    "07.6": {
        "kind": "outside",
        "answer": "needs your own export from notebook 01 (Earth Engine); run with `-p NTL_ROOT /path/to/export`.",
    },
    # 08 night-light SR
    "08.1": {
        "why": "the transform sets which errors the L1 loss weighs: log compresses bright pixels, so errors at saturated cores count less and faint pixels more than with the square root.",
        "kind": "variant",
        "variants": {"": {"snippet": "ntl_sr.HR_TRANSFORM = 'log'"}},
        "values": N08,
        "look_at": "lit-pixel MAE and the saturated MAE against PSNR.",
    },
    "08.2": {
        "kind": "variant",
        "variants": {
            "": {
                "snippet": "import functools\nnight_lights.losses.ntl_sr_loss = functools.partial(losses.ntl_sr_loss, auxiliary=False)",
                "after": "helpers.show_source(night_lights.train_model)",
            }
        },
        "values": N08,
        "look_at": "the saturated MAE of the full model.",
    },
    "08.3": {
        "kind": "variant",
        "variants": {"": {"snippet": "OVERLAP = 0"}},
        "values": {
            "mean |tiled - one-shot|": "tile_gap['mean_abs_diff']",
            "p99 |tiled - one-shot|": "tile_gap['p99_abs_diff']",
        },
        "look_at": "the |tiled - one-shot| map: lines along the 128 px tile edges.",
    },
    "08.4": {
        "kind": "variant",
        "variants": {"": {}},
        "values": {
            "patch with the largest total-light error (full model)": "test_set.ids()[int(np.argmax([abs(p.sum() - t.sum()) / max(t.sum(), 1e-9) for p, t in zip(predictions['full model'], truth)]))]",
            "its relative total-light error": "max(abs(p.sum() - t.sum()) / max(t.sum(), 1e-9) for p, t in zip(predictions['full model'], truth))",
        },
        "look_at": "that patch's error map (section 6 plots the brightest patch; change `k` to the patch found here).",
    },
    # 09 ablation (each variant trains 8 rows x seeds: many minutes)
    "09.1": {"kind": "variant", "variants": {"": {"params": {"SEEDS": 6}}}, "values": A09},
    "09.2": {
        "kind": "variant",
        "variants": {
            "": {
                "snippet": 'ROWS = {"baseline": ROWS["baseline"], "+ affine transformation": (dict(OFF, affine=True), PLAIN, None), "+ deformable CNN": (dict(OFF, deformable=True, affine=True), PLAIN, None), **{k: v for k, v in ROWS.items() if k not in ("baseline", "+ deformable CNN", "+ affine transformation")}}',
                "after": "ROWS = {  # name:",
            }
        },
        "values": A09,
        "look_at": "each module's gain over the row before it, affine first: compare with the default order (no published PSNR for the re-ordered rows).",
    },
    "09.3": {
        "kind": "variant",
        "variants": {"": {"snippet": "S = {**S, 'epochs': 4 * S['epochs']}"}},
        "values": A09,
    },
    "09.4": {
        "kind": "variant",
        "variants": {"": {"params": {"MISREGISTRATION": "high-frequency"}}},
        "values": A09,
    },
    # 10 dashboard
    "10.1": {
        "kind": "concept",
        "answer": "after `make reproduce` the dashboard fills the 'ours' columns from the newest run of the profile; the reference teaching run's dashboard showed {records:.0f} records, {rows:.0f} rows with a published counterpart and {layers:.0f} prediction layers.",
        "numbers": {
            "records": ("10", "results dashboard", "metrics.records_shown"),
            "rows": ("10", "results dashboard", "metrics.rows_compared"),
            "layers": ("10", "results dashboard", "metrics.prediction_layers"),
        },
    },
    "10.2": {
        "kind": "outside",
        "answer": "an interactive exercise (select a box in the map viewer); exercise 10.4 measures the same distributions headless.",
    },
    "10.3": {
        "kind": "variant",
        "variants": {"": {}},
        "values": {
            "largest offset of an export from the scene grid (pixels)": "max(min(x % 1, 1 - x % 1) for p in exported for g in [rasters.read(paths.scene / 'dfc.tif').transform] for t in [rasters.read(p).transform] for x in ((t.c - g.c) / g.a, (t.f - g.f) / g.e))",
            "exported files": "len(exported)",
        },
        "look_at": "QGIS draws the cut-out exactly on `scene/dfc.tif` when its origin lies on the scene's pixel grid: an offset of 0 pixels (QGIS itself is not on this machine).",
    },
    "10.4": {
        "kind": "variant",
        "variants": {
            "a": {"params": {"BOX_HALF_M": 250.0}},
            "b": {"params": {"BOX_HALF_M": 5000.0}},
        },
        "values": {
            "coarse-fine share difference (sum |diff| / 2)": "float(sum(abs(low_dist.get(k, 0) - high_dist.get(k, 0)) for k in set(low_dist) | set(high_dist)) / 2)"
        },
        "look_at": "half the summed absolute difference of the class shares: 0 when the distributions agree.",
    },
    # 11 real scene
    "11.1": {
        "kind": "variant",
        "variants": {"": {"params": {"BANDS": ["B04", "B03", "B02", "B08"]}}},
        "values": R11,
    },
    "11.2": {
        "kind": "variant",
        "variants": {"a": {"snippet": "WEIGHT_POWER = 0.0"}},
        "values": R11,
        "look_at": "the IoU of scrub, wetland and water, and overall accuracy (the profile uses power 1).",
    },
    "11.3": {
        "kind": "outside",
        "why": "the two halves hold different class shares and places, so a gap between models measured on one half is one draw of the test area, not a property of the models.",
        "answer": "not scripted: besides the `Scene(split=...)` calls, the U-Net prediction cell predicts the east columns (`east_cols = slice(W // 2, W)`) and the standardisation reads the west columns, so a swap means editing those cells too. Swapping the `Scene` splits alone was tried (smoke profile) and stopped on U-Net predictions of 255 on labelled pixels.",
    },
    "11.4": {
        "kind": "outside",
        "why": "blocks of one half border each other: test blocks share fields, towns and seasons with neighbouring training blocks (spatial autocorrelation), so the score says less about a new area.",
        "answer": "not scripted: as in exercise 3, the prediction cell predicts only the east columns (`east_cols`), so test blocks on the west half need that cell edited; changing the `Scene` splits alone is not enough.",
    },
    "11.5": {"kind": "outside", "answer": "needs your own scene and labels."},
    "11.6": {
        "kind": "concept",
        "answer": "a coding exercise (load notebook 03's checkpoint, then `train.fit` on the west half). The two ends it moves between, in the reference run: notebook 03's U-Net applied as is scored {transfer:.3f} macro IoU (mean of 3 seeds), the U-Net trained on the west half {own:.3f}; fine-tuning starts at the first and should approach the second within a few epochs.",
        "numbers": {
            "transfer": ("11", "mean of 3 seeds", "metrics.iou_mean"),
            "own": ("11", "U-Net (13 bands)", "metrics.iou"),
        },
    },
    "11.7": {
        "kind": "variant",
        "variants": {
            "": {  # the U-Net's crops in [0, 1] (normalise="s2"); its prediction fed the same way
                "snippet": "crops = Scene(folder / 's2.tif', folder / 'labels.tif', classes=folder / 'classes.json', bands=BANDS, normalise='s2', split='west', crop=CROP, samples=SAMPLES, augment=True, seed=SEED, min_labelled=MIN_LABELLED).load()\nMEAN, STD = 0.0, 1.0  # the prediction cell then feeds the s2-normalised image, as in training",
                "after": "crops = Scene(",
            }
        },
        "values": {**R11, "U-Net training loss (epoch 1, middle, last)": LOSS11},
        "look_at": "the U-Net's training loss at its first, middle and last epoch, and macro IoU.",
    },
    # 12 real night lights (runs take minutes)
    "12.1": {
        "kind": "outside",
        "answer": "needs the halves swapped inside the notebook's data cell; not scripted as a variant.",
    },
    "12.5": {
        "kind": "outside",
        "answer": "needs row (d) retrained on the west half's two folds with one band (the protocol of the guided settings' comment in recipes/night_transfer.py); not scripted as a variant.",
    },
    "12.2": {
        "kind": "variant",
        "variants": {
            "": {
                "snippet": "from helpers.training import night_transfer as _nt\n_nt.DEGRADATION = {**_nt.DEGRADATION, 'gain': 1.5, 'noise_dn': 0.0}"
            }
        },
        "values": N12,
    },
    "12.3": {
        "kind": "variant",
        "variants": {
            "": {
                "snippet": "from helpers.training import night_transfer as _nt\n_nt.RECIPE['lit_weight'] = 0.0"
            }
        },
        "values": N12,
    },
    "12.4": {
        "kind": "variant",
        "variants": {"": {}},
        "values": {
            "sample scene, 30 m / 450 m, per statistic": "{k: real_lights.light_stats(sample_fine)[k] / v for k, v in sample_stats.items() if v}"
        },
        "look_at": "the ratio of each statistic at 30 m to the same at 450 m: near 1 for what does not depend on the pixel size.",
    },
    # 13 real land cover (each run trains every method over 3 seeds: minutes)
    "13.1": {
        "kind": "variant",
        "variants": {"": {"snippet": "MIN_KNOWN = 0.5"}},
        "values": {**R13, "share of coarse cells with a label": CELLS13},
        "look_at": "the profile's MIN_KNOWN is 0.1; the coarse cells kept, the coarse-map floors and the label-SR rows.",
    },
    "13.2": {
        "kind": "outside",
        "answer": "a coding exercise (`coarse_labels.degrade` before training); no variant scripted.",
    },
    "13.3": {
        "kind": "variant",
        "variants": {
            "": {
                "snippet": "west_image, west_mask, east_image, east_mask = east_image, east_mask, west_image, west_mask",
                "after": 'east_image, east_mask = scene.side("east")',
            }
        },
        "values": {
            **R13,
            "rank by macro IoU (1 = best, mean of seeds)": RANK13,
            "Kendall tau, published vs real scene": "AGREEMENT['published vs real scene']",
        },
        "look_at": "the order of the methods by macro IoU (their ranks) and its Kendall tau with the published ordering; the names west/east in the notebook's text then mean the other halves.",
    },
    "13.4": {
        "kind": "variant",
        "variants": {
            "": {
                "snippet": "_unet = landcover.unet\nlandcover.unet = lambda *a, **k: _unet(*a, **{**k, 'loss': landcover.weighted_cross_entropy(landcover.class_weights(west_mask, K))})",
                "after": 'east_image, east_mask = scene.side("east")',
            }
        },
        "values": {**R13, "U-Net per-class IoU": per_class("13", "U-Net")},
        "look_at": "the U-Net row's per-class IoU (rare classes: scrub, wetland, residential) and macro IoU.",
    },
    "13.5": {
        "kind": "outside",
        "answer": "a design exercise (equal optimisation steps per method); no variant scripted.",
    },
}


def baseline_values(notebook: str) -> dict[str, str]:
    """Every value expression of ``notebook``'s exercises (what its baseline run reports)."""
    out: dict[str, str] = {}
    for key, spec in SPECS.items():
        if key.startswith(notebook + "."):
            out.update(spec.get("values", {}))
    return out

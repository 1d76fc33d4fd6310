"""Bag of colours: a colour vocabulary, per-segment word histograms and a random forest (HR-MARS method 5).

After HR-MARS (slides "Bag of Color - Algorithm"), which cites Wengert, Douze and Jegou,
2011, Bag-of-colors for improved image search (ACM Multimedia, pp. 1437-1440). Steps, as HR-MARS
lists them:

1. Vocabulary: normalised pixel values (R, G, B, NIR) of all training images are clustered into
   ``words`` colours (80 in HR-MARS) by k-means (here scikit-learn ``MiniBatchKMeans``).
2. Image division: each patch is split into ``segments`` (20 in HR-MARS) groups of pixels that
   "can be at any spatial location": by default k-means on the pixel colours *within the patch*
   (``method="colour"``). ``method="slic"`` adds the pixel coordinates to the features (a SLIC-like
   spatially compact segmentation without SLIC's local search window), as an alternative.
3. Histograms: every pixel gets its nearest vocabulary word; each segment is described by the
   normalised histogram (sums to 1) of its words.
4. Training: the label of a segment is the majority label of its pixels; a random forest
   (1000 trees in HR-MARS) learns histogram -> label.
5. Prediction: the forest's label for a segment is painted on all its pixels.

Departures: the normalisation of HR-MARS's pixel values is not stated; here each band is
standardised with the mean and standard deviation of the vocabulary's training pixels. The
vocabulary and the forest are fitted on a random subsample (``max_pixels``) for speed.
Everything is seeded, so a re-run gives the same result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

SEGMENT_METHODS = ("colour", "slic")


@dataclass
class Vocabulary:
    """The colour words: ``centers`` (words, bands) in standardised units, and the band statistics."""

    centers: np.ndarray
    mean: np.ndarray
    std: np.ndarray

    @property
    def size(self) -> int:
        """Number of words."""
        return len(self.centers)

    def normalise(self, pixels: np.ndarray) -> np.ndarray:
        """(N, bands) raw values -> standardised values."""
        return (np.asarray(pixels, dtype=np.float32) - self.mean) / self.std

    def assign(self, image: np.ndarray) -> np.ndarray:
        """(bands, H, W) image -> (H, W) index of the nearest word of every pixel."""
        pixels = pixels_of(image)
        return nearest(self.normalise(pixels), self.centers).reshape(np.asarray(image).shape[1:])

    def colours(self, bands: tuple[int, int, int] = (0, 1, 2)) -> np.ndarray:
        """(words, 3) displayable colours of the words (the chosen bands, stretched to [0, 1])."""
        raw = self.centers * self.std + self.mean
        rgb = raw[:, list(bands)]
        lo, hi = np.percentile(rgb, 2), np.percentile(rgb, 98)
        return np.clip((rgb - lo) / max(hi - lo, 1e-6), 0, 1)


def pixels_of(image: np.ndarray) -> np.ndarray:
    """(bands, H, W) -> (H*W, bands) float32, checking for NaNs."""
    arr = np.asarray(image, dtype=np.float32)
    if arr.ndim != 3:
        raise ValueError(f"expected an image of shape (bands, H, W), got {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(
            "image holds NaN or infinite values; fill or mask them before the bag of colours"
        )
    return arr.reshape(arr.shape[0], -1).T


def nearest(points: np.ndarray, centers: np.ndarray, chunk: int = 65536) -> np.ndarray:
    """Index of the nearest centre (squared Euclidean) of each point, in chunks to bound memory."""
    out = np.empty(len(points), dtype=np.int64)
    c2 = (centers**2).sum(1)
    for start in range(0, len(points), chunk):
        p = points[start : start + chunk]
        out[start : start + chunk] = np.argmin(c2[None, :] - 2 * p @ centers.T, axis=1)
    return out


def sample_pixels(images: Any, max_pixels: int = 200_000, seed: int = 0) -> np.ndarray:
    """A random subsample (at most ``max_pixels``) of the pixels of an iterable of (bands, H, W) images."""
    rng = np.random.default_rng(seed)
    images = list(images)
    per_image = max(1, max_pixels // max(len(images), 1))
    chunks = []
    for image in images:
        pixels = pixels_of(image)
        take = min(per_image, len(pixels))
        chunks.append(pixels[rng.choice(len(pixels), take, replace=False)])
    return np.concatenate(chunks)


def fit_vocabulary(pixels: np.ndarray, words: int = 80, seed: int = 0) -> Vocabulary:
    """Cluster (N, bands) pixel values into ``words`` colours with MiniBatchKMeans (seeded)."""
    from sklearn.cluster import MiniBatchKMeans

    pixels = np.asarray(pixels, dtype=np.float32)
    if len(pixels) < words:
        raise ValueError(f"need at least {words} pixels to build {words} words, got {len(pixels)}")
    mean = pixels.mean(0)
    std = pixels.std(0) + 1e-6
    km = MiniBatchKMeans(n_clusters=words, random_state=seed, n_init=3, batch_size=4096)
    km.fit((pixels - mean) / std)
    return Vocabulary(
        km.cluster_centers_.astype(np.float32), mean.astype(np.float32), std.astype(np.float32)
    )


def segment(
    image: np.ndarray,
    segments: int = 20,
    method: str = "colour",
    seed: int = 0,
    compactness: float = 1.0,
    max_fit: int = 4096,
) -> np.ndarray:
    """Split a (bands, H, W) patch into at most ``segments`` groups of pixels -> (H, W) ids 0..n-1.

    ``"colour"`` (default, as HR-MARS): k-means on the patch's standardised pixel colours, so a
    segment's pixels need not touch. ``"slic"``: the same with the pixel coordinates (weighted by
    ``compactness``) as extra features, which gives spatially compact segments. k-means is fitted on
    up to ``max_fit`` pixels and then every pixel goes to its nearest centre.
    """
    from sklearn.cluster import KMeans

    if method not in SEGMENT_METHODS:
        raise ValueError(f"unknown segment method {method!r}; choose one of {SEGMENT_METHODS}")
    arr = np.asarray(image, dtype=np.float32)
    h, w = arr.shape[1:]
    feats = pixels_of(arr)
    feats = (feats - feats.mean(0)) / (feats.std(0) + 1e-6)
    if method == "slic":
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        step = np.sqrt(h * w / segments)  # the grid spacing of SLIC's seeds
        xy = np.stack([yy.ravel(), xx.ravel()], 1) / step * compactness
        feats = np.concatenate([feats, xy], 1)
    rng = np.random.default_rng(seed)
    fit_on = feats[rng.choice(len(feats), min(max_fit, len(feats)), replace=False)]
    k = min(segments, len(np.unique(fit_on, axis=0)))
    km = KMeans(n_clusters=k, n_init=1, random_state=seed).fit(fit_on)
    ids = nearest(feats, km.cluster_centers_.astype(np.float32))
    _, ids = np.unique(ids, return_inverse=True)  # consecutive ids, no empty segments
    return ids.reshape(h, w)


def histograms(words: np.ndarray, segments: np.ndarray, n_words: int) -> np.ndarray:
    """(n_segments, n_words) word histograms of each segment, each normalised to sum to 1."""
    words, segments = np.asarray(words).ravel(), np.asarray(segments).ravel()
    n_seg = int(segments.max()) + 1
    counts = np.bincount(segments * n_words + words, minlength=n_seg * n_words).reshape(
        n_seg, n_words
    )
    return counts / np.maximum(counts.sum(1, keepdims=True), 1)


def majority_labels(
    mask: np.ndarray, segments: np.ndarray, num_classes: int, ignore_index: int = 255
) -> np.ndarray:
    """Majority label of each segment (``ignore_index`` where a segment holds only ignored pixels)."""
    mask, segments = np.asarray(mask).ravel(), np.asarray(segments).ravel()
    n_seg = int(segments.max()) + 1
    valid = mask != ignore_index
    counts = np.bincount(
        segments[valid] * num_classes + mask[valid].astype(np.int64), minlength=n_seg * num_classes
    )
    counts = counts.reshape(n_seg, num_classes)
    return np.where(counts.sum(1) > 0, counts.argmax(1), ignore_index)


@dataclass
class BagOfColors:
    """The whole method: ``fit(images, masks)`` then ``predict(image)`` -> (H, W) label map."""

    words: int = 80
    segments: int = 20
    trees: int = 1000
    method: str = "colour"
    num_classes: int = 8
    max_pixels: int = 200_000
    seed: int = 0
    n_jobs: int | None = None
    vocabulary: Vocabulary | None = field(default=None, repr=False)
    forest: Any = field(default=None, repr=False)

    def features(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(segment ids (H, W), word map (H, W), histograms (n_segments, words)) of one patch."""
        if self.vocabulary is None:
            raise RuntimeError("fit the vocabulary first (BagOfColors.fit)")
        seg = segment(image, self.segments, self.method, self.seed)
        words = self.vocabulary.assign(image)
        return seg, words, histograms(words, seg, self.vocabulary.size)

    def fit(self, images: Any, masks: Any) -> BagOfColors:
        """Build the vocabulary, then train the forest on every segment's histogram and majority label."""
        from sklearn.ensemble import RandomForestClassifier

        images = [np.asarray(i) for i in images]
        masks = [np.asarray(m) for m in masks]
        if len(images) != len(masks) or not images:
            raise ValueError(
                f"need as many masks as images (got {len(images)} images, {len(masks)} masks)"
            )
        self.vocabulary = fit_vocabulary(
            sample_pixels(images, self.max_pixels, self.seed), self.words, self.seed
        )
        x, y = self.training_set(images, masks)
        self.forest = RandomForestClassifier(
            n_estimators=self.trees, random_state=self.seed, n_jobs=self.n_jobs
        )
        self.forest.fit(x, y)
        return self

    def training_set(
        self, images: list[np.ndarray], masks: list[np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Histograms and majority labels of all segments of all patches (segments with no label dropped)."""
        xs, ys = [], []
        for image, mask in zip(images, masks):
            seg, _, hist = self.features(image)
            lab = majority_labels(mask, seg, self.num_classes)
            keep = lab != 255
            xs.append(hist[keep])
            ys.append(lab[keep])
        return np.concatenate(xs), np.concatenate(ys)

    def predict(self, image: np.ndarray) -> np.ndarray:
        """(bands, H, W) patch -> (H, W) labels: the forest's class for each segment, painted back."""
        if self.forest is None:
            raise RuntimeError("BagOfColors is not fitted; call fit(images, masks) first")
        seg, _, hist = self.features(image)
        return self.forest.predict(hist)[seg]

    def predict_many(self, images: Any, progress: bool = True) -> np.ndarray:
        """(N, H, W) labels of a list of patches (a tqdm bar when ``progress`` and tqdm is there)."""
        images = list(images)
        if progress:
            try:
                from tqdm.auto import tqdm

                images = tqdm(images, desc="predict")
            except ImportError:
                pass
        return np.stack([self.predict(image) for image in images])

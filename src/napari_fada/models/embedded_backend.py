"""The embedded default backend: the shipped compact network, on the CPU, in one forward pass.

Plane probabilities come from temperature-scaled logits. The plane routes the structures, as
FADA's MAP phase does: only the structures the model may show on that plane are proposed (none
on a plane it has no outlines for), and nothing when the plane probability is below the model's
threshold (the plane call then says it is unsure). A structure the user picks by hand is
proposed whatever the plane. Structure masks come from the segmentation logits upsampled to the
full image before the argmax, so outlines and the head ellipse are as fine as the image; on a
plane the model was trained on mirrored (the head planes) they are the average of the image's
and its mirror's logits.
Connected components become annotations: one at most for a structure an image holds once (the
head, the brain, the symphysis), none for fragments. A shape's score is the soft Dice between
its mask and the probability map around it (the Dice the model expects for it), mapped by the
weights' calibration to the probability that the shape reaches Dice 0.9, times the probability
of the plane that routed it.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
from skimage.measure import label as connected_components
from skimage.measure import regionprops
from skimage.measure._regionprops import RegionProperties
from torch.nn import functional as F

from napari_fada.core.biometry import HEAD_STRUCTURE, biometry_values, head_biometry
from napari_fada.core.geometry import mask_to_polygons
from napari_fada.core.proposal import Annotation, ModelInfo, PlaneCall, Proposal
from napari_fada.core.scan_planes import fada_label
from napari_fada.core.vocabulary import Route, canonical_structure
from napari_fada.errors import ImageReadError, ModelLoadError
from napari_fada.models.base import Backend, CancelToken, ProgressCallback, ProposeRequest
from napari_fada.models.embedded_net import fused_for_inference
from napari_fada.models.embedded_preprocess import normalise, resize_gray
from napari_fada.models.embedded_weights import (
    ANY_STRUCTURE,
    SHIPPED_WEIGHTS,
    EmbeddedWeights,
    load_weights,
)
from napari_fada.models.file_hashes import file_sha256

#: Components smaller than this fraction of the image (and than MIN_AREA_PX) are noise.
MIN_AREA_FRACTION = 2e-4
MIN_AREA_PX = 16
#: Structures an image shows once: only the largest component is proposed.
SINGLE_INSTANCE = frozenset({"head", "fetal_head", "pubic_symphysis", "Brain"})
#: Components smaller than this fraction of their structure's largest one are fragments.
FRAGMENT_FRACTION = 0.2
#: Structures inside another: the outer one's mask includes them (one class per pixel).
CONTAINS: dict[str, tuple[str, ...]] = {"head": ("Brain", "CSP", "LV"), "Brain": ("CSP", "LV")}


class EmbeddedBackend(Backend):
    """The plugin's own model. ``model`` is its weights file (None: the shipped file) or weights
    in memory (a run being trained, not saved yet: no file hash)."""

    def __init__(
        self, model: Path | EmbeddedWeights | None = None, threads: int | None = None
    ) -> None:
        if isinstance(model, EmbeddedWeights):
            self._weights, weights_sha256 = model, ""
        else:
            path = Path(model) if model is not None else SHIPPED_WEIGHTS
            self._weights, weights_sha256 = load_weights(path), file_sha256(path)
        self._net = fused_for_inference(self._weights.build())
        self._threads = threads or os.cpu_count() or 1
        self.info = ModelInfo(
            model_id=f"fada-embedded-{self._weights.model_version}",
            backend="embedded",
            weights_sha256=weights_sha256,
            config_sha256=self._weights.preprocess.sha256(),
        )

    @property
    def structures(self) -> tuple[str, ...]:
        """The structures this model segments."""
        return self._weights.structures

    @property
    def planes(self) -> tuple[str, ...]:
        return self._weights.planes

    def route(
        self, plane_label: str | None, interpretation: Mapping[str, object] | None = None
    ) -> Route:
        """The weights' own routing: the structures proposed on ``plane_label`` (all of the
        model's when its weights carry no routing); the interpretation plays no part."""
        routes = self._weights.plane_structures
        if not routes:
            everything = self.structures
            return Route("embedded", "no routing: every structure", everything, everything)
        wanted = tuple(routes.get(plane_label or "", ()))
        return Route("embedded", f"the model's routing for plane {plane_label!r}", wanted, wanted)

    def propose(
        self,
        image: np.ndarray,
        request: ProposeRequest | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> Proposal:
        request = request or ProposeRequest()
        cancel = cancel or CancelToken()
        image = _check_image(image)
        height, width = image.shape[:2]
        timings: dict[str, float] = {}

        def step(message: str, fraction: float) -> None:
            cancel.raise_if_cancelled()
            if progress is not None:
                progress(message, fraction)

        step("embedded model: reading the image", 0.0)
        started = time.perf_counter()
        labels, probs, plane_probs = self._forward(image)
        timings["forward"] = time.perf_counter() - started

        step("embedded model: tracing structures", 0.6)
        started = time.perf_counter()
        proposal = Proposal(width=width, height=height, model=self.info, timings_s=timings)
        plane = self._plane_call(plane_probs)
        if "classify" in request.phases:
            proposal.plane = plane
        if {"detect", "segment"} & set(request.phases):
            wanted, weight = self._wanted(request, plane)
            for name in self.structures:
                if name in wanted:
                    mask, probability = self._structure(name, labels, probs)
                    proposal.annotations += self._instances(
                        mask, probability, name, "segment" in request.phases, weight
                    )
            if HEAD_STRUCTURE in wanted and request.pixel_spacing_mm:
                step("embedded model: head biometry", 0.9)
                head, _ = self._structure(HEAD_STRUCTURE, labels, probs)
                proposal.biometry = self._biometry(head, request.pixel_spacing_mm)
            if plane.unsure and request.structures is None:
                proposal.issues.append(
                    f"unsure of the plane ({plane.describe()}): no shapes proposed; pick the "
                    "structures by hand to ask for them"
                )
        timings["postprocess"] = time.perf_counter() - started
        step("embedded model: done", 1.0)
        return proposal

    def _forward(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Full-resolution class labels (H, W) and probabilities (C, H, W), plane probabilities.

        When the likeliest plane is one the model was trained on mirrored, the segmentation
        logits are averaged with those of the mirrored image (the plane call is the image's own:
        its temperature was fitted on it)."""
        config = self._weights.preprocess
        x = torch.from_numpy(normalise(resize_gray(image, config.size), config))[None, None]
        x = x.contiguous(memory_format=torch.channels_last)
        torch.set_num_threads(self._threads)
        with torch.inference_mode():
            seg_logits, plane_logits = self._net(x)
            plane = (plane_logits[0] / self._weights.plane_temperature).softmax(dim=0).numpy()
            if self.planes[int(plane.argmax())] in self._weights.mirrored_planes:
                mirrored, _ = self._net(x.flip(3))
                seg_logits = (seg_logits + mirrored.flip(3)) / 2
            for name, offset in self._weights.logit_offsets.items():
                if name in self.structures:
                    seg_logits[:, 1 + self.structures.index(name)] += offset
            seg_logits = F.interpolate(
                seg_logits, size=image.shape[:2], mode="bilinear", align_corners=False
            )
            probs = seg_logits.softmax(dim=1)[0].numpy()
        labels = probs.argmax(axis=0)  # numpy's is several times faster than torch's here
        if not (np.isfinite(plane).all() and np.isfinite(probs).all()):
            raise ModelLoadError(
                f"The embedded model {self.model_id} gave NaN or infinite scores: its weights are "
                "damaged. Train it again or pick another weights file."
            )
        return labels, probs, plane

    def _plane_call(self, plane_probs: np.ndarray) -> PlaneCall:
        """The most probable plane. It is ``unsure`` when the planes that route like it (to the
        same structures, or like it to none) are together less probable than the model's
        threshold: telling a trans-thalamic from a trans-ventricular plane may be hard while
        the head on it is certain."""
        best = int(plane_probs.argmax())
        routes = self._weights.plane_structures
        route = set(routes.get(self.planes[best], ()))
        alike = [set(routes.get(p, ())) == route for p in self.planes]
        return PlaneCall(
            label=self.planes[best],
            score=float(plane_probs[best]),
            probabilities=dict(zip(self.planes, map(float, plane_probs), strict=True)),
            source=self.model_id,
            fada_label=fada_label(self.planes[best]),
            unsure=float(plane_probs[alike].sum()) < self._weights.min_plane_score,
        )

    def _wanted(self, request: ProposeRequest, plane: PlaneCall) -> tuple[set[str], float]:
        """The structures to propose and the weight of their scores: those picked by hand (1.0),
        else those the plane routes to (with the probability of the planes routing there); none
        when unsure of the plane."""
        if request.structures is not None:
            return {canonical_structure(name) for name in request.structures}, 1.0
        routes = self._weights.plane_structures
        if not routes:  # a model without routing proposes everything it finds
            return set(self.structures), 1.0
        wanted = routes.get(plane.label, ())
        if plane.unsure or not wanted:
            return set(), 0.0
        alike = [p for p in self.planes if routes.get(p, ()) == wanted]
        return set(wanted), sum(plane.probabilities[p] for p in alike)

    def _instances(
        self,
        mask: np.ndarray,
        probability: np.ndarray,
        name: str,
        with_polygon: bool,
        weight: float,
    ) -> list[Annotation]:
        """One annotation per connected component of ``mask`` large enough, largest first (only
        the largest for a structure an image shows once; no fragments).

        Each component is traced inside its own bounding box, which keeps this fast on large
        images."""
        min_area = max(MIN_AREA_PX, MIN_AREA_FRACTION * mask.size)
        regions = sorted(
            regionprops(connected_components(mask, connectivity=1)), key=lambda r: -r.area
        )
        if regions:
            min_area = max(min_area, FRAGMENT_FRACTION * regions[0].area)
        if name in SINGLE_INSTANCE:
            regions = regions[:1]
        found = []
        for region in regions:
            if region.area < min_area:
                break
            rows, cols = region.slice
            polygon = None
            if with_polygon:
                traced = mask_to_polygons(region.image, min_area=min_area)
                if not traced:
                    continue
                polygon = [(x + cols.start, y + rows.start) for x, y in traced[0]]
            found.append(
                Annotation(
                    label=name,
                    box=(float(cols.start), float(rows.start), float(cols.stop), float(rows.stop)),
                    polygon=polygon,
                    score=weight * self._right_probability(name, region, probability),
                    source=self.model_id,
                )
            )
        return found

    def _right_probability(
        self, name: str, region: RegionProperties, probability: np.ndarray
    ) -> float:
        """How likely the shape is to reach Dice 0.9 as it stands: its expected Dice through the
        weights' calibration (the expected Dice itself for weights without one)."""
        expected = _expected_dice(region, probability)
        calibration = self._weights.shape_calibration
        fit = calibration.get(name, calibration.get(ANY_STRUCTURE))
        if fit is None:
            return expected
        slope, intercept = fit
        clipped = min(max(expected, 1e-4), 1 - 1e-4)
        return 1.0 / (1.0 + math.exp(-(slope * math.log(clipped / (1 - clipped)) + intercept)))

    def _structure(
        self, name: str, labels: np.ndarray, probs: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Mask and probability map of ``name``. Classes are exclusive per pixel, so a structure
        that contains others (the head around the brain) also takes their pixels."""
        names = (name, *CONTAINS.get(name, ()))
        indices = [1 + self.structures.index(n) for n in names if n in self.structures]
        return np.isin(labels, indices), probs[indices].sum(axis=0)

    @staticmethod
    def _biometry(head: np.ndarray, spacing: tuple[float, float]) -> dict[str, float]:
        """HC, BPD, OFD and GA from the largest head instance's full-resolution mask."""
        components = connected_components(head, connectivity=1)
        if components.max() == 0:
            return {}
        largest = 1 + int(np.bincount(components.ravel())[1:].argmax())
        return biometry_values(head_biometry(components == largest, spacing))


def _expected_dice(region: RegionProperties, probability: np.ndarray) -> float:
    """Soft Dice between a component and the probability map in a margin around it: near 1 when
    the model is sure of every pixel of the outline, lower where the border is in doubt."""
    rows, cols = region.slice
    margin = max(2, (rows.stop - rows.start + cols.stop - cols.start) // 8)
    top, left = max(0, rows.start - margin), max(0, cols.start - margin)
    window = probability[top : rows.stop + margin, left : cols.stop + margin]
    mask = np.zeros(window.shape, dtype=bool)
    mask[rows.start - top : rows.stop - top, cols.start - left : cols.stop - left] = region.image
    overlap = float(window[mask].sum())
    return 2 * overlap / (float(window.sum()) + float(mask.sum()) + 1e-6)


def _check_image(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (3, 4)):
        raise ImageReadError(
            f"the embedded model takes a 2-D grayscale or RGB image, got an array of shape "
            f"{image.shape}; pick a single frame"
        )
    if min(image.shape[:2]) < 8:
        raise ImageReadError(f"image of {image.shape[1]}x{image.shape[0]} pixels is too small")
    return image

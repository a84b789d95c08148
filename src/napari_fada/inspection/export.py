"""Write chosen inspection cases out: as a small dataset of their ground truth, or as a report.

The dataset is written by :class:`~napari_fada.data.dataset.Dataset`, so ``napari-fada
evaluate``, ``train`` and the annotator open it like any other. The report (Markdown or HTML)
names every case, shows its picture with the error overlays, its scores, and the model's raw
answer and interpretation, after the summary plots.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from napari_fada.core.atomic import write_png_atomic, write_text_atomic
from napari_fada.core.proposal import ModelInfo, PlaneCall, Proposal
from napari_fada.core.scoring import Reference
from napari_fada.data.formats.manifest import HC_KEY
from napari_fada.data.shared_layout import GROUND_TRUTH
from napari_fada.inspection.error_maps import error_boxes, error_label_image, structure_errors
from napari_fada.inspection.per_image import Inspection, InspectionCase
from napari_fada.inspection.pictures import overlay_picture
from napari_fada.inspection.plots import save_figures, summary_figures
from napari_fada.inspection.report_document import (
    SUFFIX,
    Block,
    Code,
    Heading,
    Paragraph,
    Picture,
    ReportFormat,
    Table,
)
from napari_fada.inspection.report_document import render as render_document


def truth_proposal(reference: Reference) -> Proposal:
    """The ground truth of an image as a reviewed proposal: its annotations accepted, its true
    plane an accepted plane call, its reference HC the biometry."""
    plane = reference.plane or (reference.plane_aliases or (None,))[0]
    return Proposal(
        width=reference.width,
        height=reference.height,
        annotations=[replace(a) for a in reference.annotations],
        plane=PlaneCall(plane, source=GROUND_TRUTH, status="accepted") if plane else None,
        interpretation={"imaging_plane": plane} if plane else None,
        biometry={HC_KEY: reference.hc_mm} if reference.hc_mm is not None else {},
        model=ModelInfo(model_id=GROUND_TRUTH, backend=GROUND_TRUTH),
    )


def export_dataset(
    inspection: Inspection, cases: Sequence[InspectionCase], out: str | Path
) -> list[str]:
    """Save the images of ``cases`` with their ground truth into the dataset folder ``out`` (new,
    empty, or an existing dataset, whose other images stay). Returns the saved image ids."""
    from napari_fada.data.dataset import Dataset, make_record

    dataset = Dataset.open(Path(out))
    saved = []
    for image_id in dict.fromkeys(case.image_id for case in cases):
        reference = inspection.reference(image_id)
        image = inspection.image(image_id)
        item = inspection.items[image_id]
        record = make_record(image, None, reference.pixel_spacing_mm, name=image_id)
        record = replace(
            record, source_dataset=inspection.sources.get(image_id) or None, split=item.split
        )
        saved.append(dataset.save(record, image, truth_proposal(reference)).image_id)
    return saved


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "case"


def _score(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _summary(inspection: Inspection, cases: Sequence[InspectionCase]) -> list[Block]:
    rows = []
    for model_id in sorted({c.model_id for c in cases}):
        report = inspection.report(model_id)
        failed = sum(c.failed for c in inspection.cases[model_id])
        rows.append(
            (
                model_id,
                str(report.n_images),
                _score(report.mean_dice),
                _score(report.map50),
                _score(report.plane_accuracy),
                f"{failed} of {report.n_images}",
            )
        )
    header = ("model", "images", "mean Dice", "mAP@0.50", "plane accuracy", "failed")
    return [Heading("Models"), Table(header, tuple(rows))]


def case_blocks(
    inspection: Inspection, case: InspectionCase, picture: str | None = None
) -> list[Block]:
    """A case's section: plane, scores per structure, its ``picture`` if given, error boxes,
    the model's raw answer and interpretation."""
    proposal = inspection.proposal(case)
    result = case.result
    labels = sorted({*result.dice, *case.box_ap})
    scores = tuple(
        (
            label,
            _score(result.dice.get(label)),
            _score(result.iou.get(label)),
            _score(case.box_ap.get(label)),
        )
        for label in labels
    )
    mark = {True: "right", False: "wrong", None: "not scored"}[result.plane_correct]
    plane = (
        f"Plane: true {result.plane_true or '-'}, predicted {result.plane_predicted or '-'} "
        f"(score {_score(case.plane_score)}), {mark}. Source dataset: "
        f"{case.source_dataset or 'unknown'}. Mean Dice {_score(case.mean_dice)}."
    )
    boxes = tuple(
        (b.kind, b.label, ", ".join(f"{v:.0f}" for v in b.box), _score(b.score))
        for b in error_boxes(case)
    )
    blocks: list[Block] = [
        Heading(f"{case.image_id} — {case.model_id}", 3),
        Paragraph(plane),
        Table(("structure", "Dice", "IoU", "box AP@0.50"), scores),
    ]
    if picture is not None:
        caption = f"{case.image_id}: false positives red, false negatives cyan, both yellow"
        blocks.append(Picture(picture, caption))
    if boxes:
        blocks.append(Table(("error box", "structure", "x0, y0, x1, y1 (px)", "score"), boxes))
    raw = "\n\n".join(f"[{phase}]\n{text}" for phase, text in proposal.raw_answers.items())
    blocks.append(Paragraph("Raw answer:"))
    blocks.append(Code(raw or "(the model gave no text answer)"))
    interpretation = json.dumps(proposal.interpretation, indent=1, ensure_ascii=False)
    blocks.append(Paragraph("Interpretation:"))
    blocks.append(Code(interpretation if proposal.interpretation else "(none)"))
    return blocks


def write_case_picture(inspection: Inspection, case: InspectionCase, path: Path) -> None:
    reference = inspection.reference(case.image_id)
    errors = structure_errors(inspection.proposal(case), reference)
    labels = error_label_image(errors, reference.width, reference.height)
    picture = overlay_picture(inspection.image(case.image_id), labels, error_boxes(case))
    write_png_atomic(path, picture)


def export_report(
    inspection: Inspection,
    cases: Sequence[InspectionCase],
    out: str | Path,
    kind: ReportFormat = "markdown",
) -> Path:
    """Write ``report.md`` or ``report.html`` into folder ``out``, with ``plots/`` (the summary
    figures over every loaded case) and ``cases/`` (one picture per chosen case)."""
    folder = Path(out)
    every = [c for model_cases in inspection.cases.values() for c in model_cases]
    plots = save_figures(summary_figures(every), folder / "plots")
    blocks: list[Block] = [
        Paragraph(f"Ground truth: {inspection.root}. {len(cases)} case(s) chosen, worst first."),
        *_summary(inspection, cases),
        Heading("Summary plots"),
        *(Picture(f"plots/{p.name}", p.stem.replace("_", " ")) for p in plots),
        Heading("Cases"),
    ]
    for case in sorted(cases, key=InspectionCase.sort_key):
        name = f"cases/{_safe(case.model_id)}__{_safe(case.image_id)}.png"
        write_case_picture(inspection, case, folder / name)
        blocks += case_blocks(inspection, case, name)
    path = folder / f"report{SUFFIX[kind]}"
    write_text_atomic(path, render_document(blocks, "Where the model fails", kind))
    return path

"""Labelled folders of other tools (COCO, YOLO, label PNGs) read as proposals to review."""

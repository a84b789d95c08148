"""napari-fada: pre-label, review and export fetal ultrasound annotations with a local model.

Importing the package imports neither napari, Qt nor torch: the core is usable from scripts.
"""

__version__ = "0.1.0"

"""Promptable segmentation: a box or clicks on an image give a mask, each click refining it.

Qt-free: the network (:mod:`.net`), the crop it sees (:mod:`.frame`), the simulated annotator
(:mod:`.clicks`), training (:mod:`.train`), the predictor (:mod:`.session`) and the interactive
evaluation (:mod:`.evaluate`). The napari layer is :mod:`napari_fada._napari.prompting`.
"""

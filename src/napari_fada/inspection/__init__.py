"""Failure-case inspection: where a model's proposals disagree with a dataset's ground truth.

Qt-free: :mod:`per_image` scores, :mod:`error_maps` locates the errors, :mod:`plots` draws the
summary figures and :mod:`export` writes the chosen cases out; the napari dock only shows them.
"""

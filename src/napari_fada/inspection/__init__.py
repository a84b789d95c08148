"""Evaluation and failure-case inspection: how well, and where, a model's proposals disagree with
a dataset's ground truth.

Qt-free: :mod:`evaluate` reads a dataset's references and scores a model or saved proposals,
:mod:`per_image` scores each image, :mod:`error_maps` locates the errors, :mod:`plots` draws the
summary figures and :mod:`export` writes the chosen cases out; the napari dock only shows them.
"""

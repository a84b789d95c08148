"""Proposing on many images: a model's proposals for whole folders and clips, saved for review.

:mod:`propose` runs one model over the inputs in this process, one image after the other. For
large runs, :mod:`inputs` turns INPUT... into work items, :mod:`work` proposes on one item in
whichever process runs it, :mod:`run_local` and :mod:`run_dask` run items on this machine or a
Dask cluster, :mod:`ordered` hands results back in input order to :mod:`prelabel`, the one
writer, and :mod:`report` records each run in the dataset folder.
"""

"""Training the embedded model: :mod:`options` says what a run is asked to do (torch-free, for
the CLI and the napari dock), :mod:`data` reads and caches dataset folders at model size,
:mod:`augment` jitters batches and :mod:`loop` trains, validates, calibrates and writes weights.
"""

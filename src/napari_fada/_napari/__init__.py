"""The napari face of the plugin, the only code that imports Qt and napari.

One subpackage per dock (:mod:`annotator`, :mod:`cine`, :mod:`review`, :mod:`inspection`,
:mod:`training`, :mod:`prelabel`), over the building blocks they share (:mod:`widgets`) and the
npe2 hooks (:mod:`hooks`). Each dock shows a workflow of the Qt-free library below.
"""

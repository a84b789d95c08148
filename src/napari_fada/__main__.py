"""``python -m napari_fada``: the ``napari-fada`` command line."""

import sys

from napari_fada.commands.main import main

sys.exit(main())

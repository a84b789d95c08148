"""``python -m napari_fada.samples FOLDER``: write the sample data set into FOLDER."""

from __future__ import annotations

import sys
from pathlib import Path

from napari_fada.samples.files import write_sample_data


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m napari_fada.samples FOLDER", file=sys.stderr)
        return 2
    for path in write_sample_data(Path(args[0])):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())

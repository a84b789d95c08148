"""Keyboard shortcuts for reviewing proposals, chosen not to clash with napari's own.

napari binds bare letters, digits and a few Shift/Ctrl combinations in its layer keymaps,
its action manager and its app-model menus; Shift+Y/N and their Ctrl variants and Shift+arrows
are used by none of them (``tests/_napari/test_review_keys.py`` checks this against the napari
that is installed).
"""

from __future__ import annotations

from typing import Any, Protocol


class Reviewer(Protocol):
    def accept(self) -> Any: ...
    def reject(self) -> Any: ...
    def accept_all(self) -> Any: ...
    def reject_all(self) -> Any: ...
    def next_image(self) -> Any: ...
    def previous_image(self) -> Any: ...


#: key -> (reviewer method, what it does)
REVIEW_KEYS: dict[str, tuple[str, str]] = {
    "Shift+Y": ("accept", "accept the selected proposals, or the next proposed one"),
    "Shift+N": ("reject", "reject the selected proposals, or the next proposed one"),
    "Control+Shift+Y": ("accept_all", "accept every proposal still open"),
    "Control+Shift+N": ("reject_all", "reject every proposal still open"),
    "Shift+Right": ("next_image", "save and go to the next image or frame"),
    "Shift+Left": ("previous_image", "save and go to the previous image or frame"),
}


def bind_review_keys(viewer: Any, reviewer: Reviewer) -> None:
    """Bind :data:`REVIEW_KEYS` on ``viewer`` to ``reviewer``'s methods (replacing earlier ones)."""
    for key, (method, _) in REVIEW_KEYS.items():

        def handler(_viewer: Any, method: str = method) -> None:
            getattr(reviewer, method)()

        viewer.bind_key(key, handler, overwrite=True)


def unbind_review_keys(viewer: Any) -> None:
    """Remove :data:`REVIEW_KEYS` from ``viewer`` (the widget they drive has closed)."""
    for key in REVIEW_KEYS:
        viewer.bind_key(key, None)

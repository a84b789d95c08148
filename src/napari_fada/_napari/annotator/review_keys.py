"""Keyboard shortcuts for reviewing proposals, chosen not to clash with napari's own.

napari binds bare letters, digits and a few Shift/Ctrl combinations in its viewer keymap
(``ViewerModel.class_keymap``: Shift+Up/Down extend the layer selection), its layer keymaps, its
action manager and its app-model menus; the keys below are used by none of them
(``tests/_napari/annotator/test_review_keys.py`` checks this against the napari that is
installed). They are bound on the viewer, so they work whichever layer is active.
"""

from __future__ import annotations

from typing import Any, Protocol


class Reviewer(Protocol):
    def propose(self) -> Any: ...
    def accept(self) -> Any: ...
    def reject(self) -> Any: ...
    def accept_all(self) -> Any: ...
    def reject_all(self) -> Any: ...
    def nothing_to_label(self) -> Any: ...
    def next_image(self) -> Any: ...
    def previous_image(self) -> Any: ...


#: key -> (reviewer method, what it does)
REVIEW_KEYS: dict[str, tuple[str, str]] = {
    "Shift+R": ("propose", "propose for the image in view"),
    "Shift+Y": (
        "accept",
        "accept the selected proposals (or the next proposed one) and the plane call",
    ),
    "Shift+N": ("reject", "reject the selected proposals, or the next proposed one"),
    "Control+Shift+Y": ("accept_all", "accept everything still open, the plane call included"),
    "Control+Shift+N": ("reject_all", "reject everything still open, the plane call included"),
    "Shift+E": ("nothing_to_label", "looked at, nothing to label: save it as a true negative"),
    "Shift+Right": ("next_image", "go to the next image or frame"),
    "Shift+Left": ("previous_image", "go to the previous image or frame"),
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

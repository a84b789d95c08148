"""Which structures to ask the model for: FADA's automatic routing, or a hand-picked list."""

from __future__ import annotations

from qtpy.QtCore import Qt
from qtpy.QtWidgets import QCheckBox, QLabel, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from napari_fada.core.vocabulary import STRUCTURES, Route

#: The routing text while no plane has been called for the image on screen.
NO_ROUTE = "Routing: chosen by the model after classifying the plane"


class StructurePicker(QWidget):
    """An "automatic" switch, the routing's group and reason, and 36 checkable structures."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.automatic = QCheckBox("Automatic (FADA routing)")
        self.automatic.setChecked(True)
        self.route_label = QLabel(NO_ROUTE)
        self.route_label.setWordWrap(True)
        self.list = QListWidget()
        for name in STRUCTURES:
            item = QListWidgetItem(name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
            self.list.addItem(item)
        self.list.setEnabled(False)
        self.list.setMaximumHeight(140)
        self.automatic.toggled.connect(lambda on: self.list.setEnabled(not on))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for widget in (self.automatic, self.route_label, self.list):
            layout.addWidget(widget)

    def _items(self) -> list[QListWidgetItem]:
        items = (self.list.item(i) for i in range(self.list.count()))
        return [item for item in items if item is not None]

    def set_manual(self, structures: list[str]) -> None:
        """Switch to a hand-picked list of ``structures``."""
        self.automatic.setChecked(False)
        for item in self._items():
            checked = item.text() in structures
            item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)

    def structures(self) -> tuple[str, ...] | None:
        """The structures to ask for, or None to let the model's routing choose."""
        if self.automatic.isChecked():
            return None
        return tuple(i.text() for i in self._items() if i.checkState() == Qt.CheckState.Checked)

    def clear_route(self) -> None:
        self.route_label.setText(NO_ROUTE)

    def show_route(self, route: Route) -> None:
        self.route_label.setText(
            f"Routing: group {route.group!r} ({route.reason}); "
            f"detect {', '.join(route.detect)}; segment {', '.join(route.segment) or 'none'}"
        )

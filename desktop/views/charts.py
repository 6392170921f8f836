"""Bar charts drawn with QPainter (the Essentials wheel has no QtCharts).

`BarChart.set_bars([Bar(label, value, colour)])` and it repaints; the accessible
description lists every bar, so a screen reader reads the figures the chart draws.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFontMetrics, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

BAR_HEIGHT = 18
GAP = 6
MARGIN = 8


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: int
    colour: str = "#2e86de"


class BarChart(QWidget):
    """Horizontal bars, one per label, scaled to the largest value."""

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = title
        self.bars: list[Bar] = []
        self.setAccessibleName(title)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.setMinimumHeight(80)

    def set_bars(self, bars: Sequence[Bar]) -> None:
        bars = list(bars)
        if bars == self.bars:
            return
        self.bars = bars
        summary = ", ".join(f"{b.label}: {b.value}" for b in bars) or "no data"
        self.setAccessibleDescription(f"{self.title}. {summary}")
        self.setToolTip(summary)
        self.updateGeometry()
        self.update()

    def sizeHint(self) -> QSize:
        rows = max(1, len(self.bars))
        return QSize(320, MARGIN * 2 + 22 + rows * (BAR_HEIGHT + GAP))

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        try:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            self._paint(painter)
        finally:
            painter.end()

    def _paint(self, painter: QPainter) -> None:
        palette = self.palette()
        metrics = QFontMetrics(self.font())
        painter.setPen(palette.windowText().color())
        painter.drawText(MARGIN, MARGIN + metrics.ascent(), self.title)
        if not self.bars:
            painter.drawText(MARGIN, MARGIN + 22 + metrics.ascent(), "No data yet")
            return
        label_width = max(metrics.horizontalAdvance(b.label) for b in self.bars) + GAP
        value_width = max(metrics.horizontalAdvance(str(b.value)) for b in self.bars) + GAP
        span = max(1, self.width() - label_width - value_width - 2 * MARGIN)
        top = MARGIN + 22
        biggest = max([1, *(b.value for b in self.bars)])
        for row, bar in enumerate(self.bars):
            y = top + row * (BAR_HEIGHT + GAP)
            text_y = y + (BAR_HEIGHT + metrics.ascent() - metrics.descent()) // 2
            painter.setPen(palette.windowText().color())
            painter.drawText(MARGIN, text_y, bar.label)
            width = span * bar.value / biggest
            rect = QRectF(
                MARGIN + label_width, y, max(width, 1.0 if bar.value else 0.0), BAR_HEIGHT
            )
            painter.fillRect(rect, QColor(bar.colour))
            painter.drawText(int(rect.right()) + GAP // 2, text_y, str(bar.value))
        painter.setPen(Qt.PenStyle.NoPen)

"""The QR code on a certificate, drawn with reportlab's own QR encoder (no extra package).

:func:`qr_matrix` is the module matrix (True = dark) of a payload at error-correction level M;
:class:`QrFlowable` draws exactly that matrix, with the 4-module quiet zone, as filled rectangles.
"""

from __future__ import annotations

from typing import Any

from reportlab.platypus import Flowable

__all__ = ["QrFlowable", "qr_matrix"]

LEVEL = "M"
QUIET = 4


def qr_matrix(payload: str) -> list[list[bool]]:
    from reportlab.graphics.barcode import qrencoder

    qr = qrencoder.QRCode(None, getattr(qrencoder.QRErrorCorrectLevel, LEVEL))
    qr.addData(payload)
    qr.make()
    return [[bool(m) for m in row] for row in qr.modules]


class QrFlowable(Flowable):  # type: ignore[misc]
    """A square QR code of side ``size`` points (quiet zone included)."""

    def __init__(self, payload: str, size: float) -> None:
        super().__init__()
        self.payload = payload
        self.matrix = qr_matrix(payload)
        self.width = self.height = size

    def wrap(self, *_: Any) -> tuple[float, float]:
        return self.width, self.height

    def draw(self) -> None:
        n = len(self.matrix)
        box = self.width / (n + 2 * QUIET)
        canv = self.canv
        canv.setFillColorRGB(1, 1, 1)
        canv.rect(0, 0, self.width, self.height, stroke=0, fill=1)
        canv.setFillColorRGB(0, 0, 0)
        for r, row in enumerate(self.matrix):
            y = self.height - (r + QUIET + 1) * box
            c = 0
            while c < n:
                if not row[c]:
                    c += 1
                    continue
                start = c
                while c < n and row[c]:
                    c += 1
                canv.rect((start + QUIET) * box, y, (c - start) * box, box, stroke=0, fill=1)

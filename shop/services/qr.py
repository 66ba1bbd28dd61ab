"""QR codes as inline SVG: no image files, no inline style (the CSP forbids it), sharp in print."""

import xml.etree.ElementTree as ET

import qrcode
import qrcode.image.svg
from markupsafe import Markup

MASK = 2


def svg(data: str, label: str) -> Markup:
    """An `<svg role="img">` QR code of `data`, named `label` for screen readers.

    It has no XML declaration, no fixed size (the stylesheet sizes it) and no `style` or `id`
    attribute, so it can be placed in a page as many times as needed.
    """
    # A fixed mask pattern (any of the 8 is valid and every reader reads them all): choosing the
    # "best" one draws the code 8 times, half of the confirmation page's CPU.
    code = qrcode.QRCode(image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=4, mask_pattern=MASK)
    code.add_data(data)
    image = code.make_image()
    root = image.get_image()
    for name in ("width", "height"):
        root.attrib.pop(name, None)
    root.set("class", "qr")
    root.set("role", "img")
    root.set("aria-label", label)
    root.set("focusable", "false")
    root.set("shape-rendering", "crispEdges")
    for element in root.iter():
        element.attrib.pop("id", None)
        element.attrib.pop("style", None)
    return Markup(ET.tostring(root, encoding="unicode"))

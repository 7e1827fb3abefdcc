"""Pieces of self-contained HTML pages (the run report, the experiment pages): the style sheet,
tables, and figures embedded as PNG data URIs (no external file, script or server)."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import matplotlib.pyplot as plt

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; border-bottom: 1px solid #ccc; padding-bottom: .2em; }
table { border-collapse: collapse; font-size: .85em; margin: .5em 0 1em; }
td, th { border: 1px solid #ddd; padding: .25em .6em; text-align: left; vertical-align: top; }
th { background: #f4f4f4; } .figures { display: flex; flex-wrap: wrap; gap: 1em; }
figure { margin: 0; } figcaption { font-size: .8em; color: #555; text-align: center; }
img { max-width: 100%; height: auto; } code { font-size: .9em; }
table.inner { font-size: .95em; margin: 0; } table.inner td, table.inner th { padding: .1em .4em; }
figure { max-width: 520px; } figcaption { text-align: left; } figure.wide { max-width: 100%; }
p.warning { background: #fff3cd; border: 1px solid #e0c060; padding: .5em .8em; }
"""


def png_uri(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


#: A figure wider than this (PNG pixels) is shown at the page's full width (class ``wide``): a
#: multi-panel figure shrunk to the 520-px column would be unreadable.
WIDE_PX = 700


def png_width(path: Path) -> int:
    """The width in pixels of a PNG file (its IHDR header), 0 if it is not one."""
    with open(path, "rb") as f:
        head = f.read(24)
    return int.from_bytes(head[16:20], "big") if head[:8] == b"\x89PNG\r\n\x1a\n" else 0


def figure_class(png: Path | str) -> str:
    """``" class='wide'"`` for a wide figure (:data:`WIDE_PX`), else ``""``: ``png`` a PNG file
    or a data URI of :func:`png_uri`."""
    if isinstance(png, str) and png.startswith("data:image/png;base64,"):
        width = int.from_bytes(base64.b64decode(png.split(",", 1)[1][:44])[16:20], "big")
    else:
        width = png_width(Path(png))
    return " class='wide'" if width > WIDE_PX else ""


def png_file_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()


def html_table(rows: list[tuple[str, str]] | list[tuple[str, str, str]], header: tuple[str, ...],
               escape: bool = True) -> str:
    """A table of ``rows`` under ``header``; ``escape=False`` for cells that are HTML already."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    cell = (lambda c: html.escape(str(c))) if escape else str
    body = "".join("<tr>" + "".join(f"<td>{cell(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"

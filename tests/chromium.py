"""The HTML report in headless Chromium (Debian's package; `.ci/run` installs it; the checks skip
without it): a screenshot that is not blank, and every figure shown large enough to read at a
1,200-px window."""

from __future__ import annotations

import html
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from waiting import LIMIT_S

#: A figure is readable when shown at no less than this fraction of its own pixels (8-pt text
#: at 110-120 dpi: 12-13 px at full size, 9 px at 0.7).
MIN_SCALE = 0.7
#: A multi-panel figure (the PSTHs: two panels across) is shown at least this wide, px.
MIN_PANELS_PX = 900
WINDOW = (1200, 2000)
_MEASURE = ("<script>window.addEventListener('load',()=>{const p=document.createElement('pre');p.id='sizes';"
            "p.textContent=[...document.images].map(i=>i.alt+'|'+i.getBoundingClientRect().width+'|'+"
            "i.naturalWidth).join('\\n');document.body.appendChild(p);});</script>")


def _chromium() -> str:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    return chromium


def _run(page: Path, profile: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                           "--no-first-run", "--disable-background-networking", "--disable-component-update",
                           "--disable-sync", f"--user-data-dir={profile}", f"--window-size={WINDOW[0]},{WINDOW[1]}",
                           *args, page.resolve().as_uri()], check=True, capture_output=True, text=True,
                          timeout=LIMIT_S)


def screenshot(page: Path, png: Path) -> None:
    """Render the page and check that the screenshot is not blank."""
    from matplotlib.image import imread

    _run(page, png.parent / "chromium-profile", f"--screenshot={png}")
    pixels = imread(png)[..., :3]
    assert pixels.shape[:2] == (WINDOW[1], WINDOW[0])
    dark = (pixels.mean(-1) < 0.5).mean()
    assert 0.01 < dark < 0.5  # text and figures drawn on a white page


def figure_widths(page: Path) -> dict[str, tuple[float, int]]:
    """Each figure of the page (by its alt text): (shown width, own width), px, as laid out by
    Chromium at the 1,200-px window. Measured on a copy of the page with a script added (the
    report itself has none)."""
    measured = page.with_name(page.stem + ".measure.html")
    measured.write_text(page.read_text().replace("</body>", _MEASURE + "</body>"))
    dom = _run(measured, page.parent / "chromium-profile", "--virtual-time-budget=10000", "--dump-dom").stdout
    found = re.search(r'<pre id="sizes">(.*?)</pre>', dom, re.S)
    assert found, "the measuring script did not run"
    widths = {}
    for line in html.unescape(found.group(1)).splitlines():
        alt, shown, own = line.rsplit("|", 2)
        widths[alt] = (float(shown), int(own))
    return widths


def check_readable(page: Path, multi_panel: tuple[str, ...] = ("psth_stimulus", "psth_choice")) -> dict:
    """Every figure shown at >= MIN_SCALE of its pixels; the multi-panel ones >= MIN_PANELS_PX wide."""
    widths = figure_widths(page)
    assert widths, "no figure in the report"
    for alt, (shown, own) in widths.items():
        assert shown >= MIN_SCALE * own - 1, f"{alt}: shown {shown:.0f} px of its {own} px"
        if any(alt.endswith(name) for name in multi_panel):
            assert shown >= MIN_PANELS_PX, f"{alt}: its panels are shown {shown:.0f} px wide in all"
    return widths

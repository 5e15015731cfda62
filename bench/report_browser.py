"""Open fieldkit reports in headless Chromium (no network) and check each screenshot is not blank.

Chromium from the Debian packages (`apt-get install -y chromium`) renders the page as a user
would see it; the screenshot must have most of its pixels white but not all, several distinct
colours, and the first chart colour (`#4e79a7`, the bars) on screen, which is only there
when the inline SVG was drawn.

    python bench/report_browser.py REPORT.html [...] [--out-dir /tmp] [--height 2400]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

BAR = (0x4E, 0x79, 0xA7)
CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "chrome")


def find_chromium() -> str | None:
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


@dataclass
class Shot:
    path: Path
    width: int
    height: int
    ink: float        # share of pixels that are not (near) white
    colours: int      # distinct colours (quantized to 32 levels per channel)
    bar_pixels: int   # pixels of the bar colour (the charts were drawn)

    @property
    def blank(self) -> bool:
        return self.ink < 0.01 or self.colours < 8 or self.bar_pixels < 200


def screenshot(page: Path, out: Path, width: int = 1200, height: int = 2400, browser: str | None = None,
               timeout: float = 120) -> Shot:
    """Screenshot of `page` by headless Chromium with networking off, and its pixel statistics."""
    browser = browser or find_chromium()
    if browser is None:
        raise FileNotFoundError("no chromium found (apt-get install -y chromium)")
    with tempfile.TemporaryDirectory(prefix="fk-chromium-") as profile:
        cmd = [browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
               "--no-first-run", "--disable-extensions", f"--user-data-dir={profile}",
               # any request leaving the machine would fail: the page must not need one
               "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
               f"--window-size={width},{height}", f"--screenshot={out}", page.resolve().as_uri()]
        subprocess.run(cmd, check=True, capture_output=True, timeout=timeout)
    return measure(out)


def measure(png: Path) -> Shot:
    import numpy as np
    from PIL import Image

    img = Image.open(png).convert("RGB")
    px = np.asarray(img, dtype=np.int16).reshape(-1, 3)
    ink = float((px < 245).any(axis=1).mean())
    q = px >> 3
    colours = len(np.unique(q[:, 0] * 1024 + q[:, 1] * 32 + q[:, 2]))
    bar = int((np.abs(px - np.array(BAR)) <= 6).all(axis=1).sum())
    return Shot(png, img.width, img.height, ink, colours, bar)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("reports", nargs="+", type=Path)
    ap.add_argument("--out-dir", type=Path, default=Path(tempfile.gettempdir()))
    ap.add_argument("--height", type=int, default=2400)
    a = ap.parse_args()
    if find_chromium() is None:
        print("no chromium: apt-get install -y chromium", file=sys.stderr)
        return 2
    bad = 0
    for page in a.reports:
        shot = screenshot(page, a.out_dir / (page.stem + ".png"), height=a.height)
        bad += shot.blank
        print(f"{page.name}: {shot.path} {shot.width}x{shot.height}, ink {shot.ink:.1%}, "
              f"{shot.colours} colours, {shot.bar_pixels:,} bar pixels -> "
              f"{'BLANK' if shot.blank else 'ok'}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

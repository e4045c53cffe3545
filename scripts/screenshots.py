"""Make the README's screenshots: the native viewer and the browser dashboard, of one run.

Starts ``cybermesh view`` on a virtual display (Xvfb) with shards, pulses and detection on,
lets it run, points at a bot and turns the overlays on, and saves the window; then opens the
same run's web mirror in headless chromium and saves the dashboard. Needs Xvfb, xdotool and
chromium (scripts/install_system_deps.sh) and the dev extra (playwright).

    python scripts/screenshots.py [--out docs/img] [--seconds 12]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from game.bench.web import BROWSER_ARGS, chromium, mirror_process  # noqa: E402
from game.viewer.images import write_png  # noqa: E402
from tests.xvfb import crop, virtual_display  # noqa: E402

SIZE = (1280, 800)
RUN = ("--seed", "11", "--set", "traffic.rate=0.6", "--set", "pulse.enabled=true",
       "--set", "pulse.adapter=rule_persist", "--set", "pulse.every=40")


def main() -> int:
    """Write viewer.png and dashboard.png."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    parser.add_argument("--seconds", type=float, default=12.0, help="run time before the shots")
    args = parser.parse_args()
    with virtual_display(*SIZE) as display, mirror_process(
            "view", "--port", "0", "--backend", "numpy", "--size", f"{SIZE[0]}x{SIZE[1]}", *RUN,
            env={**display.env, "OMP_WAIT_POLICY": "PASSIVE"}) as (proc, url):
        wid, x, y = display.window("CyberMesh")
        time.sleep(args.seconds)
        display.xdotool("mousemove", str(x + 700), str(y + 420))  # over a bot: its HUD line
        display.key(wid, "d", "w")
        time.sleep(2.5)
        display.key(wid, "e")
        time.sleep(3.5)  # the key messages fade
        image = crop(display.screenshot(), x, y, *SIZE)
        write_png(args.out / "viewer.png", image)
        print(f"wrote {args.out / 'viewer.png'}")
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium(), args=BROWSER_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 860})
            page.goto(url)
            page.wait_for_function("() => window.cybermesh && window.cybermesh.frames > 30")
            time.sleep(2.0)
            page.screenshot(path=str(args.out / "dashboard.png"))
            browser.close()
        print(f"wrote {args.out / 'dashboard.png'}")
        display.key(wid, "q")
        proc.wait(timeout=30)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

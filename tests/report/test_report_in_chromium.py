"""Open the HTML report in headless Chromium: every plot and sample image decodes, every table
has rows, and the page is not blank. A probe script is added to a copy of the page (the report
itself has no script); it writes what it found into the DOM, which ``--dump-dom`` prints."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from matplotlib import image

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="/usr/bin/chromium is absent (CI installs it: apt-get install chromium)"
)

PROBE = """
<script>
window.addEventListener("load", () => {
  const images = [...document.images];
  const decoded = images.filter(img => img.complete && img.naturalWidth > 0).length;
  const tables = [...document.querySelectorAll("table.measurements")];
  const filled = tables.filter(t => t.tBodies[0].rows.length > 0 && t.offsetHeight > 0).length;
  const probe = document.createElement("div");
  probe.id = "render-probe";
  probe.textContent = `images=${images.length} decoded=${decoded} tables=${tables.length} filled=${filled}`;
  document.body.appendChild(probe);
});
</script>
"""


def chromium(*arguments: str, profile: Path) -> subprocess.CompletedProcess:
    command = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        *arguments,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)


def test_html_report_renders_in_chromium(synthetic_files, synthetic_report, tmp_path):
    page = tmp_path / "probed.html"
    page.write_text(synthetic_files.html.read_text().replace("</body>", PROBE + "</body>"))

    dom = chromium(
        "--virtual-time-budget=10000", "--dump-dom", page.as_uri(), profile=tmp_path / "profile-dom"
    ).stdout
    found = re.search(r"images=(\d+) decoded=(\d+) tables=(\d+) filled=(\d+)", dom)
    assert found, f"the probe did not run; DOM starts: {dom[:500]!r}"
    images, decoded, tables, filled = map(int, found.groups())
    drawn = sum(f.png is not None for f in [*synthetic_report.answer_figures, *synthetic_report.figures])
    samples = sum(s.is_image for s in synthetic_report.samples)
    assert images == drawn + samples == decoded
    expected_tables = (
        len(synthetic_report.answer)
        + len(synthetic_report.op_tables)
        + len(synthetic_report.other_tables)
        + 1
    )  # + environment
    assert tables == expected_tables == filled

    screenshot = tmp_path / "report.png"
    chromium(
        "--window-size=1280,2400",
        f"--screenshot={screenshot}",
        synthetic_files.html.as_uri(),
        profile=tmp_path / "profile-shot",
    )
    pixels = image.imread(screenshot)[..., :3]
    assert pixels.shape[:2] == (2400, 1280)
    assert pixels.std() > 0.05 and (pixels < 0.5).mean() > 0.01, "the screenshot is blank"

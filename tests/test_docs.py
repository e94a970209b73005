"""The documentation: the README stays short, the settings reference is made from
profiles/default.yaml, and the site builds strictly (a broken link or a page missing from
the navigation fails)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from drapto.run import reference

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def test_readme_is_short_and_its_links_lead_somewhere() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.encode()) <= 12 * 1024
    links = re.findall(r"\]\(([^)#]+)", text)
    local = [link for link in links if "://" not in link]
    assert local, "the README points to the documentation"
    for link in local:
        assert (ROOT / link).exists(), link


def test_the_readme_runs_the_tests_as_ci_does() -> None:
    """The README's second command is exactly what .ci/run runs, unit tests then e2e."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = [line for line in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
          if line.startswith("python3 ")]
    assert len(ci) == 1 and ci[0] in readme.splitlines()
    assert "pytest -m unit" in ci[0] and "pytest -m e2e" in ci[0]


def test_settings_reference_is_made_from_the_default_profile(tmp_path: Path) -> None:
    page = DOCS / "pages" / "settings.md"
    assert reference.main(["--check", str(page)]) == 0
    text = page.read_text(encoding="utf-8")
    for key in ("preset", "target_vmaf", "over_cap", "executor", "keep_work"):
        assert f"| `{key}` |" in text
    # A setting's help edited on the page alone, or a setting missing from it, is caught.
    stale = tmp_path / "settings.md"
    stale.write_text(text.replace("Encoder preset:", "The preset:"), encoding="utf-8")
    assert reference.main(["--check", str(stale)]) == 1
    assert reference.main([str(stale)]) == 0
    assert stale.read_text(encoding="utf-8") == text


def _build(config: Path, site: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict",
                           "-f", str(config), "-d", str(site)],
                          capture_output=True, text=True, check=False, timeout=300)


def test_the_site_builds_strictly(tmp_path: Path) -> None:
    pytest.importorskip("mkdocs", reason="the docs extra is not installed")
    built = _build(DOCS / "mkdocs.yml", tmp_path / "site")
    assert built.returncode == 0, built.stderr
    pages = {p.stem for p in (DOCS / "pages").glob("*.md")}
    assert {"index", "usage", "settings", "quality", "troubleshooting", "benchmarks",
            "design"} <= pages
    for stem in pages - {"index"}:
        assert (tmp_path / "site" / stem / "index.html").is_file(), stem
    # The same site with a link to a page that does not exist, or a page left out of the
    # navigation, does not build.
    copy = tmp_path / "docs"
    shutil.copytree(DOCS, copy)
    usage = copy / "pages" / "usage.md"
    usage.write_text(usage.read_text(encoding="utf-8") + "\nSee [gone](gone.md).\n",
                     encoding="utf-8")
    broken = _build(copy / "mkdocs.yml", tmp_path / "broken")
    assert broken.returncode != 0 and "gone.md" in broken.stderr
    usage.write_text((DOCS / "pages" / "usage.md").read_text(encoding="utf-8"),
                     encoding="utf-8")
    (copy / "pages" / "orphan.md").write_text("# Orphan\n", encoding="utf-8")
    orphan = _build(copy / "mkdocs.yml", tmp_path / "orphan")
    assert orphan.returncode != 0 and "orphan.md" in orphan.stderr

"""Settings layering and validation; the default profile documents every key."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from drapto import settings
from drapto.errors import DraptoError


def test_default_profile_lists_every_key_with_the_code_default() -> None:
    data = settings.read_yaml(settings.profile_path("default"), "profile")
    defaults = settings.Settings()
    assert data == {f.name: getattr(defaults, f.name) for f in dataclasses.fields(defaults)}


def test_quality_targeting_is_the_default_and_the_fast_profile_a_fixed_crf() -> None:
    assert settings.load("default", None, env={}, cli={}).quality == "vmaf"
    assert settings.load("fast", None, env={}, cli={}).quality == "crf"
    assert settings.load("default", None, env={}, cli={"quality": "crf"}).quality == "crf"


def test_layers_in_order(tmp_path: Path) -> None:
    config = tmp_path / "my.yaml"
    config.write_text("preset: 7\ncrf_hd: 22\nmin_segment: 4\n")
    s = settings.load("fast", config, env={"DRAPTO_CRF_HD": "21", "DRAPTO_FFMPEG": "x"},
                      cli={"crf_hd": "20", "input": "x.mkv", "audio_bitrates": "{2: 96}"})
    assert s.preset == 7          # config file over the fast profile's 10
    assert s.crf_uhd == 34        # from the fast profile
    assert s.min_segment == 4.0   # config file
    assert s.crf_hd == 20         # command line over environment over config
    assert s.audio_bitrates == {1: 64, 2: 96, 6: 256, 8: 384}  # merged entry by entry
    assert s.audio_bitrate(2) == 96 and s.audio_bitrate(3) == 144


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"cli": {"presett": "5"}}, "unknown setting 'presett' in the command line"),
    ({"env": {"DRAPTO_NOPE": "1"}}, "unknown setting 'nope' in environment variable DRAPTO_NOPE"),
    ({"cli": {"preset": "fast"}}, "setting 'preset' from the command line: expected a whole"),
    ({"cli": {"crf_hd": "99"}}, "setting 'crf_hd' from the command line: 99 is outside 1..63"),
    ({"cli": {"pixel_format": "rgb24"}}, "'rgb24' is not one of"),
    ({"cli": {"min_segment": "20"}}, "max_segment (15) is shorter than min_segment (20)"),
    ({"profile": "nosuch"}, "profile 'nosuch': no such profile (known: default, fast, film)"),
])
def test_bad_settings_name_key_and_source(kwargs: dict[str, object], message: str) -> None:
    kwargs.setdefault("env", {})
    with pytest.raises(DraptoError) as err:
        settings.load(**kwargs)  # type: ignore[arg-type]
    assert message in str(err.value)


def test_bad_config_file_named(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("preset: [unclosed\n")
    with pytest.raises(DraptoError, match=f"config file {bad}: cannot be read"):
        settings.load("default", bad, env={})
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("speed: 3\n")
    with pytest.raises(DraptoError, match=f"unknown setting 'speed' in config file {unknown}"):
        settings.load("default", unknown, env={})


def test_the_settings_page_documents_every_setting_once() -> None:
    """The settings reference's tables and profiles/default.yaml name the same keys."""
    import re

    import yaml

    from drapto.settings import PROFILES_DIR

    page = (PROFILES_DIR.parent / "docs" / "pages" / "settings.md").read_text(encoding="utf-8")
    named = re.findall(r"^\| `(\w+)` \| `--", page, re.M)
    defaults = yaml.safe_load((PROFILES_DIR / "default.yaml").read_text(encoding="utf-8"))
    assert sorted(named) == sorted(defaults)

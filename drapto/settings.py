"""Settings: defaults in code -> profile YAML -> user config file -> DRAPTO_* -> command line.

Every key is declared once, in :class:`Settings`; ``profiles/default.yaml`` lists them all
(a test keeps the two equal). Unknown keys and bad values raise DraptoError naming the key
and the layer it came from.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from drapto.errors import DraptoError

# The repository's profiles/ (a checkout, an editable install), or the copy installed as
# package data (pip install of a built package).
_HERE = Path(__file__).resolve().parent
PROFILES_DIR = next((d for d in (_HERE.parent / "profiles", _HERE / "profiles")
                     if (d / "default.yaml").is_file()), _HERE.parent / "profiles")

# Environment variables that are not settings.
ENV_RESERVED = {"DRAPTO_FFMPEG", "DRAPTO_PROFILE", "DRAPTO_CONFIG", "DRAPTO_WORK"}
# Command-line variables that are not settings.
RUN_VARS = ("input", "output", "work", "profile", "config", "start", "end", "duration",
            "jobs", "api", "chapters", "overwrite")


@dataclass(frozen=True)
class Settings:
    # video
    preset: int = 6
    crf_hd: int = 25
    crf_uhd: int = 29
    pixel_format: str = "yuv420p10le"
    svt_params: str = "tune=0"
    deinterlace: str = "auto"
    # quality targeting
    quality: str = "vmaf"
    target_vmaf: float = 93.0
    target_vmaf_hdr: float = 95.0
    vmaf_pool: str = "mean"
    vmaf_tolerance: float = 2.0
    vmaf_overshoot: float = 2.0
    film_tolerance: float = 0.5
    vmaf_subsample: int = 9
    crf_min: int = 10
    crf_max: int = 63
    search: str = "final"
    search_start_crf: int = 35
    search_preset: int = 10
    search_sample: float = 0.25
    search_attempts: int = 3
    calibration_segments: int = 6
    max_encoded_percent: float = 80.0
    over_cap: str = "skip"
    # crop
    crop: str = "auto"
    crop_samples: int = 25
    crop_limit: float = 16.0
    crop_limit_hdr: float = 128.0
    # HDR and Dolby Vision
    dolby_vision: str = "auto"
    crf_dv: int = 25
    crf_dv_uhd: int = 29
    # scenes
    scene_threshold: float = 10.0
    scene_threshold_hdr: float = 8.0
    min_segment: float = 5.0
    max_segment: float = 15.0
    # audio
    audio_bitrates: dict[int, int] = field(
        default_factory=lambda: {1: 64, 2: 128, 6: 256, 8: 384})
    audio_bitrate_per_channel: int = 48
    # tracks kept (empty: every track)
    audio_languages: list[str] = field(default_factory=list)
    audio_drop_titles: list[str] = field(default_factory=list)
    audio_tracks: list[int] = field(default_factory=list)
    audio_copy: list[str] = field(default_factory=list)
    subtitle_languages: list[str] = field(default_factory=list)
    subtitle_drop_titles: list[str] = field(default_factory=list)
    subtitle_tracks: list[int] = field(default_factory=list)
    # memory
    memory_budget: str = "auto"
    memory_estimates: dict[int, int] = field(
        default_factory=lambda: {576: 500, 1080: 1200, 2160: 4000, 4320: 9000})
    # where segments are encoded
    executor: str = "local"
    # the work folder after a finished encode
    keep_work: str = "no"

    def crf_for(self, height: int) -> int:
        """Fixed CRF by resolution: up to 1080 lines crf_hd, above crf_uhd."""
        return self.crf_hd if height <= 1080 else self.crf_uhd

    def crf_for_dolby_vision(self, width: int) -> int:
        """Dolby Vision sources: CRF by width (3840 and wider: crf_dv_uhd)."""
        return self.crf_dv_uhd if width >= 3840 else self.crf_dv

    def audio_bitrate(self, channels: int) -> int:
        """Opus bitrate in kbit/s for a track with *channels* channels."""
        return self.audio_bitrates.get(channels, self.audio_bitrate_per_channel * channels)


_FIELDS = {f.name: f for f in dataclasses.fields(Settings)}
_RANGES: dict[str, tuple[float, float]] = {
    "preset": (-1, 13), "crf_hd": (1, 63), "crf_uhd": (1, 63),
    "scene_threshold": (0.0, 100.0), "scene_threshold_hdr": (0.0, 100.0),
    "min_segment": (0.04, 3600.0), "crop_samples": (1, 500), "crop_limit": (0.0, 255.0),
    "crop_limit_hdr": (0.0, 1023.0), "crf_dv": (1, 63), "crf_dv_uhd": (1, 63),
    "target_vmaf": (1.0, 100.0), "target_vmaf_hdr": (1.0, 100.0), "vmaf_tolerance": (0.0, 20.0),
    "vmaf_overshoot": (0.0, 20.0), "film_tolerance": (0.05, 20.0),
    "vmaf_subsample": (1, 100), "crf_min": (1, 63), "crf_max": (1, 63),
    "search_attempts": (1, 20), "search_start_crf": (1, 63), "search_preset": (-1, 13),
    "search_sample": (0.01, 1.0), "calibration_segments": (1, 100),
    "max_encoded_percent": (0.0, 1000.0),
    "max_segment": (0.04, 3600.0), "audio_bitrate_per_channel": (6, 256),
}
_MAPPINGS = {
    "audio_bitrates": ("channel count to kbit/s", "{2: 128, 6: 256}", (1, 255), (6, 1024)),
    "memory_estimates": ("output height to MiB", "{1080: 1200, 2160: 4000}", (1, 100_000),
                         (16, 10_000_000)),
}
_PIXEL_FORMATS = ("yuv420p10le", "yuv420p")
_CHOICES = {"pixel_format": _PIXEL_FORMATS, "deinterlace": ("auto", "on", "off"),
            "dolby_vision": ("auto", "off"), "quality": ("crf", "vmaf"),
            "search": ("final", "probes"), "keep_work": ("no", "yes"),
            "over_cap": ("skip", "lower", "encode")}
# Audio formats audio_copy can name, and how MediaInfo names them (format or codec id).
COPYABLE: dict[str, tuple[str, ...]] = {
    "truehd": ("mlp fa", "truehd", "a_truehd"), "dts": ("dts", "a_dts"),
    "flac": ("flac", "a_flac"), "ac3": ("ac-3", "a_ac3"), "eac3": ("e-ac-3", "a_eac3"),
    "aac": ("aac", "a_aac"), "pcm": ("pcm", "a_pcm"), "opus": ("opus", "a_opus"),
}
_CROP = re.compile(r"^(auto|off|\d+:\d+:\d+:\d+)$")
_EXECUTOR = re.compile(r"^(local|dask(\+tls)?://[^\s/:]+:\d+)$")


def _parse_text(value: str) -> Any:
    try:
        return safe_load(value)
    except yaml.YAMLError:
        return value


def _coerce(key: str, value: Any, source: str) -> Any:
    kind = _FIELDS[key].type
    where = f"setting '{key}' from {source}"
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise DraptoError(f"{where}: expected a whole number, got {value!r}")
    elif kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise DraptoError(f"{where}: expected a number, got {value!r}")
        value = float(value)
    elif kind == "str":
        if not isinstance(value, str):
            raise DraptoError(f"{where}: expected text, got {value!r}")
    elif kind in ("list[str]", "list[int]"):
        items = [v.strip() for v in value.split(",") if v.strip()] if isinstance(value, str) \
            else value if isinstance(value, list) \
            else [value] if isinstance(value, int) and not isinstance(value, bool) else None
        want = int if kind == "list[int]" else str
        if items is not None and want is int:
            items = [int(v) if isinstance(v, str) and v.isdigit() else v for v in items]
        if items is None or not all(isinstance(v, want) and not isinstance(v, bool)
                                    for v in items):
            raise DraptoError(f"{where}: expected a list of "
                              f"{'track numbers' if want is int else 'names'} (a, b or [a, b]), "
                              f"got {value!r}")
        value = list(items)
        if key == "audio_copy" and (bad := [v for v in value if v.lower() not in COPYABLE]):
            raise DraptoError(f"{where}: {bad[0]!r} is not one of {', '.join(COPYABLE)}")
    elif kind == "dict[int, int]":
        what, example, (klo, khi), (vlo, vhi) = _MAPPINGS[key]
        if not isinstance(value, Mapping) or not value or not all(
                isinstance(k, int) and isinstance(v, int) and not isinstance(v, bool)
                and klo <= k <= khi and vlo <= v <= vhi for k, v in value.items()):
            raise DraptoError(f"{where}: expected a mapping of {what} (e.g. {example}), "
                              f"got {value!r}")
        value = dict(value)
    if key in _RANGES:
        lo, hi = _RANGES[key]
        if not lo <= value <= hi:
            raise DraptoError(f"{where}: {value!r} is outside {lo:g}..{hi:g}")
    if key == "memory_budget" and not re.match(r"^(auto|\d+(\.\d+)?[MG%])$", value):
        raise DraptoError(f"{where}: {value!r} is not auto, N%, NM or NG")
    if key == "vmaf_pool" and not re.match(r"^(mean|harmonic|p\d{1,2})$", value):
        raise DraptoError(f"{where}: {value!r} is not mean, harmonic or pN (a percentile)")
    if key == "executor" and not _EXECUTOR.match(value):
        raise DraptoError(f"{where}: {value!r} is not local, dask://HOST:PORT or "
                          "dask+tls://HOST:PORT")
    if key == "crop" and not _CROP.match(value):
        raise DraptoError(f"{where}: {value!r} is not auto, off or W:H:X:Y")
    if key in _CHOICES and value not in _CHOICES[key]:
        raise DraptoError(f"{where}: {value!r} is not one of {', '.join(_CHOICES[key])}")
    return value


def _apply(values: dict[str, Any], layer: Mapping[str, Any], source: str,
           from_text: bool = False) -> None:
    for key, raw in layer.items():
        if key not in _FIELDS:
            close = difflib.get_close_matches(key, [*_FIELDS, *RUN_VARS], n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise DraptoError(f"unknown setting '{key}' in {source}{hint}")
        text = from_text and isinstance(raw, str) and _FIELDS[key].type != "str"
        value = _parse_text(raw) if text else raw  # text stays text (crop=1920:800:0:140)
        value = _coerce(key, value, source)
        if isinstance(value, dict) and isinstance(values.get(key), dict):
            value = {**values[key], **value}  # a mapping overrides entry by entry
        values[key] = value


# libyaml's loader where PyYAML has it: every run reads the profiles (a tenth of a second
# with the pure-Python one).
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def safe_load(text: str) -> Any:
    return yaml.load(text, Loader=_LOADER)


def read_yaml(path: Path, what: str) -> dict[str, Any]:
    try:
        data = safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DraptoError(f"{what} {path}: no such file") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise DraptoError(f"{what} {path}: cannot be read: {exc}".splitlines()[0]) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise DraptoError(f"{what} {path}: expected a mapping of setting: value")
    return data


@functools.cache
def documented() -> dict[str, tuple[str, Any]]:
    """Every setting with its help (the comment above it in profiles/default.yaml) and its
    default: what the `drapto` command's options and `doit help encode` are made from."""
    text = (PROFILES_DIR / "default.yaml").read_text(encoding="utf-8")
    defaults = read_yaml(PROFILES_DIR / "default.yaml", "profile")
    out: dict[str, tuple[str, Any]] = {}
    comment: list[str] = []
    for line in text.splitlines():
        if line.startswith("# ---") or not line.strip():
            comment = []
        elif line.startswith("#"):
            comment.append(line[1:].strip())
        elif (m := re.match(r"^(\w+):", line)) and m.group(1) in _FIELDS:
            out[m.group(1)] = (" ".join(comment), defaults[m.group(1)])
            comment = []
    return out


def brief(text: str, limit: int = 90) -> str:
    """A setting's help cut to its first sentence (or clause), for help that fits a screen;
    the whole text is in the settings reference."""
    first = re.split(r"(?<![.])(?<!e\.g)(?<!i\.e)\.\s", text, maxsplit=1)[0].rstrip(".")
    return first if len(first) <= limit else first[:limit - 1].rsplit(" ", 1)[0] + "…"


def profile_path(name: str) -> Path:
    """``profiles/<name>.yaml``, or *name* itself when it is a path to a ``.yaml`` file."""
    if name.endswith((".yaml", ".yml")):
        path = Path(name)
        if not path.is_file():
            raise DraptoError(f"profile {path}: no such file")
        return path
    if not name or "/" in name or name.startswith("."):
        raise DraptoError(f"profile '{name}': not a profile name")
    path = PROFILES_DIR / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in PROFILES_DIR.glob("*.yaml")))
        raise DraptoError(f"profile '{name}': no such profile (known: {known})")
    return path


def load(profile: str = "default", config: Path | None = None,
         env: Mapping[str, str] | None = None,
         cli: Mapping[str, str] | None = None,
         job: Mapping[str, Any] | None = None, job_source: str = "the job file") -> Settings:
    """Layer defaults, the profile, an optional config file, DRAPTO_*, command-line vars and
    a job file's settings for one job (*job*, read from YAML: typed values)."""
    values: dict[str, Any] = {}
    if profile != "default":
        _apply(values, read_yaml(profile_path("default"), "profile"), "profile 'default'")
    path = profile_path(profile)
    _apply(values, read_yaml(path, "profile"), f"profile '{profile}' ({path})")
    if config is not None:
        _apply(values, read_yaml(config, "config file"), f"config file {config}")
    env = os.environ if env is None else env
    env_layer = {}
    for name, raw in env.items():
        if name.startswith("DRAPTO_") and name not in ENV_RESERVED:
            env_layer[name[len("DRAPTO_"):].lower()] = raw
    for key, raw in env_layer.items():
        _apply(values, {key: raw}, f"environment variable DRAPTO_{key.upper()}", from_text=True)
    cli_layer = {k: v for k, v in (cli or {}).items() if k not in RUN_VARS}
    _apply(values, cli_layer, "the command line", from_text=True)
    _apply(values, job or {}, job_source)
    settings = Settings(**values)
    if settings.crf_max < settings.crf_min:
        raise DraptoError(f"crf_max ({settings.crf_max}) is below crf_min ({settings.crf_min})")
    if settings.max_segment < settings.min_segment:
        raise DraptoError(f"max_segment ({settings.max_segment:g}) is shorter than "
                          f"min_segment ({settings.min_segment:g})")
    return settings

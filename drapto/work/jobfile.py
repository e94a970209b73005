"""Job files: many encodes and clips from one YAML or JSON document.

Three shapes are read (``api=``):

- ``jobs`` (the default): a list of jobs, each ``{input, output?, profile?, config?, clips?,
  <any setting>}``, a clip ``{start, end | duration, name?}``;
- ``ytdlp``: a yt-dlp info JSON (``yt-dlp -J``, ``--write-info-json``): one clip per chapter
  (or those named by ``chapters=``), else the whole file, named after the titles;
- ``generic``: ``{"input": ..., "clips": [{"start": ..., "end": ..., "title": ...}]}``;

and ``auto`` recognises which one a document is. Paths in a document are relative to its
folder (to the current one for standard input). Every error names the document, the job
(its number and input) and the key.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from drapto.errors import DraptoError

APIS = ("jobs", "ytdlp", "generic", "auto")
JOB_KEYS = ("input", "output", "profile", "config", "clips")
CLIP_KEYS = ("start", "end", "duration", "name")
# The longest output name drapto makes from a title, in bytes of UTF-8 (filesystems allow
# 255; the rest is for the range, ".av1.mkv" and temporary names).
NAME_BYTES = 150
# Names Windows reserves whatever the extension.
_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)),
             *(f"LPT{i}" for i in range(1, 10))}


@dataclass(frozen=True)
class Clip:
    start: str | None
    end: str | None
    duration: str | None
    name: str | None


@dataclass
class JobSpec:
    """One job of a document, as written there (paths resolved against its folder)."""
    number: int                     # 1-based, as a user counts
    input: Path | None              # None: the document names none (an error of its own)
    where: str                      # "jobs.yaml, job 2 (film.mkv)": how errors name it
    output: str | None = None
    profile: str | None = None
    config: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    clips: list[Clip] = field(default_factory=list)
    title: str | None = None        # names the output of a whole-file job (API responses)


def read_document(value: str, base: Path) -> tuple[str, Path, Any]:
    """(its name for messages, the folder its paths are relative to, its content) of the
    document named by ``jobs=`` (``-``: standard input)."""
    if value == "-":
        name, folder, text = "standard input", base, sys.stdin.read()
    else:
        path = (base / value).resolve()
        name, folder = str(path), path.parent
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise DraptoError(f"jobs={value}: {path}: no such file") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise DraptoError(f"jobs={value}: {path}: cannot be read: {exc}") from None
    try:
        return name, folder, yaml.safe_load(text)  # YAML reads JSON too
    except yaml.YAMLError as exc:
        first = str(exc).replace("\n", " ")
        raise DraptoError(f"{name}: not YAML or JSON: {first}") from None


def recognise(doc: Any) -> str:
    """Which shape a document has: jobs, ytdlp or generic."""
    if isinstance(doc, list):
        return "jobs"
    if isinstance(doc, Mapping):
        if "clips" in doc and "input" in doc:
            return "generic"
        if any(k in doc for k in ("requested_downloads", "_filename", "extractor",
                                  "webpage_url", "chapters")):
            return "ytdlp"
    raise DraptoError("cannot tell what this document is: expected a list of jobs, a yt-dlp "
                      "info JSON or {input, clips}")


def specs(doc: Any, name: str, folder: Path, api: str = "jobs",
          input_override: str | None = None, chapters: str | None = None) -> list[JobSpec]:
    """The jobs of a document; DraptoError naming the document, job and key for anything
    that is not as it should be."""
    if api not in APIS:
        raise DraptoError(f"api={api}: expected one of {', '.join(APIS)}")
    if api == "auto":
        try:
            api = recognise(doc)
        except DraptoError as exc:
            raise DraptoError(f"{name}: {exc}") from None
    if chapters and api != "ytdlp":
        raise DraptoError(f"chapters={chapters}: only for a yt-dlp info JSON (api=ytdlp)")
    if api == "ytdlp":
        return [_from_ytdlp(doc, name, folder, input_override, chapters)]
    if api == "generic":
        return [_from_generic(doc, name, folder, input_override)]
    if input_override:
        raise DraptoError(f"input={input_override}: a job list names its inputs (input= "
                          "goes with api=ytdlp or api=generic)")
    if not isinstance(doc, list) or not doc:
        raise DraptoError(f"{name}: expected a list of jobs (each with an input)")
    return [_job(entry, i, name, folder) for i, entry in enumerate(doc, 1)]


def _path(value: Any, folder: Path, what: str) -> Path:
    if not isinstance(value, str) or not value.strip():
        raise DraptoError(f"{what}: expected a file name, got {value!r}")
    return folder / Path(value).expanduser()


def _text(value: Any, what: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise DraptoError(f"{what}: expected text or a number, got {value!r}")
    return str(value)


def _job(entry: Any, number: int, name: str, folder: Path) -> JobSpec:
    if not isinstance(entry, Mapping):
        raise DraptoError(f"{name}, job {number}: expected a mapping with an input, "
                          f"got {entry!r}")
    raw = entry.get("input")
    where = f"{name}, job {number}" + (f" ({raw})" if isinstance(raw, str) else "")
    if raw is None:
        raise DraptoError(f"{where}: 'input' is missing")
    spec = JobSpec(number, _path(raw, folder, f"{where}, input"), where)
    for key in ("output", "profile", "config"):
        value = _text(entry.get(key), f"{where}, {key}")
        is_path = key != "profile" or (value or "").endswith((".yaml", ".yml"))
        if value and is_path:  # relative to the document's folder; a folder keeps its '/'
            value = str(folder / Path(value).expanduser()) + ("/" if value.endswith("/")
                                                              else "")
        setattr(spec, key, value)
    spec.settings = {k: v for k, v in entry.items() if k not in JOB_KEYS}
    clips = entry.get("clips")
    if clips is not None:
        if not isinstance(clips, list):
            raise DraptoError(f"{where}, clips: expected a list of {{start, end, name}}")
        spec.clips = [_clip(c, f"{where}, clip {i}") for i, c in enumerate(clips, 1)]
    return spec


def _clip(entry: Any, where: str, aliases: Mapping[str, str] | None = None) -> Clip:
    if not isinstance(entry, Mapping):
        raise DraptoError(f"{where}: expected a mapping of start, end or duration, and name")
    fields: dict[str, str | None] = {}
    for key, value in entry.items():
        key = (aliases or {}).get(key, key)
        if key not in CLIP_KEYS:
            raise DraptoError(f"{where}: unknown key '{key}' (expected "
                              f"{', '.join(CLIP_KEYS)})")
        fields[key] = _text(value, f"{where}, {key}")
    return Clip(*(fields.get(k) for k in CLIP_KEYS))


def _from_generic(doc: Any, name: str, folder: Path, input_override: str | None) -> JobSpec:
    if not isinstance(doc, Mapping):
        raise DraptoError(f"{name}: expected {{input, clips}}")
    unknown = sorted(set(doc) - {"input", "clips", "title"})
    if unknown:
        raise DraptoError(f"{name}: unknown key '{unknown[0]}' (expected input, clips, title)")
    raw = input_override or doc.get("input")
    where = f"{name}, job 1" + (f" ({raw})" if isinstance(raw, str) else "")
    if raw is None:
        raise DraptoError(f"{where}: 'input' is missing")
    spec = JobSpec(1, _path(raw, Path.cwd() if input_override else folder,
                            f"{where}, input"), where)
    clips = doc.get("clips")
    if not isinstance(clips, list):
        raise DraptoError(f"{where}, clips: expected a list of {{start, end, title}}")
    spec.clips = [_clip(c, f"{where}, clip {i}", {"title": "name"})
                  for i, c in enumerate(clips, 1)]
    return spec


def _ytdlp_file(doc: Mapping[str, Any]) -> str | None:
    for download in doc.get("requested_downloads") or []:
        if isinstance(download, Mapping):
            for key in ("filepath", "_filename", "filename"):
                if isinstance(download.get(key), str):
                    return str(download[key])
    value = doc.get("_filename") or doc.get("filename")
    return value if isinstance(value, str) else None


def _from_ytdlp(doc: Any, name: str, folder: Path, input_override: str | None,
                chapters: str | None) -> JobSpec:
    if not isinstance(doc, Mapping):
        raise DraptoError(f"{name}: expected a yt-dlp info JSON (a mapping)")
    raw = input_override or _ytdlp_file(doc)
    where = f"{name}, job 1" + (f" ({raw})" if raw else "")
    if raw is None:
        raise DraptoError(f"{where}: names no downloaded file (requested_downloads, "
                          "_filename); give input=")
    spec = JobSpec(1, _path(raw, Path.cwd() if input_override else folder,
                            f"{where}, input"), where)
    title = _text(doc.get("title"), f"{where}, title")
    found = doc.get("chapters") or []
    if not isinstance(found, list):
        raise DraptoError(f"{where}, chapters: expected a list")
    clips = []
    for i, ch in enumerate(found, 1):
        what = f"{where}, chapter {i}"
        if not isinstance(ch, Mapping) or ch.get("start_time") is None:
            raise DraptoError(f"{what}: expected start_time, end_time and title")
        clips.append(Clip(_text(ch.get("start_time"), f"{what}, start_time"),
                          _text(ch.get("end_time"), f"{what}, end_time"), None,
                          _text(ch.get("title"), f"{what}, title") or f"Chapter {i}"))
    if chapters:
        wanted = [c.strip() for c in chapters.split(",") if c.strip()]
        by_title = {(c.name or "").casefold(): c for c in clips}
        missing = [w for w in wanted if w.casefold() not in by_title]
        if missing:
            known = ", ".join(c.name or "" for c in clips) or "none"
            raise DraptoError(f"{where}: no chapter named '{missing[0]}' (chapters: {known})")
        clips = [by_title[w.casefold()] for w in wanted]
    if clips:
        spec.clips = [Clip(c.start, c.end, None, f"{title} - {c.name}" if title else c.name)
                      for c in clips]
    else:
        spec.title = title
    return spec


def safe_name(title: str, taken: set[str]) -> str:
    """A file name from a title that every filesystem takes: no path separators, control or
    reserved characters, no leading '-' or '.', no trailing dot or space, at most NAME_BYTES
    of UTF-8, and unique among *taken* (compared without case), which it joins."""
    text = unicodedata.normalize("NFC", title)
    text = "".join(" " if unicodedata.category(ch).startswith("C") else ch for ch in text)
    text = re.sub(r'[/\\:*?"<>|]+', " ", text)
    text = re.sub(r"\s+", " ", text).strip().lstrip("-. ").rstrip(". ")
    if text.split(".")[0].upper() in _RESERVED:
        text = f"_{text}"
    text = _cut(text or "untitled", NAME_BYTES)
    name, n = text, 1
    while name.casefold() in taken:
        n += 1
        suffix = f" ({n})"
        name = _cut(text, NAME_BYTES - len(suffix.encode())).rstrip(". ") + suffix
    taken.add(name.casefold())
    return name


def _cut(text: str, limit: int) -> str:
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[:limit].decode("utf-8", "ignore").rstrip()

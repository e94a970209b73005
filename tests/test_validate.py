"""Validation proven to fail: each check, fed a source and an output that disagree in the
one way it looks at, fails with its message; fed the real sample and its encode, all pass."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from drapto.errors import DraptoError
from drapto.files import read_json
from drapto.media.probing import probe
from drapto.media.records import Probe, Scenes
from drapto.media.timeline import expected_spans
from drapto.stages.segments import segment_ids
from drapto.stages.validate import checks, notes, read_output, run_validate, timeline_checks


@pytest.fixture(scope="module")
def real(sample: Path, encoded: dict[str, Any]) -> dict[str, Any]:
    """The sample's probe, its encode's probe and spans, and the encode's scenes.json."""
    out = probe(encoded["output"])
    frames, depth, spans = read_output(encoded["output"], len(out["audio"]),
                                       len(out["subtitles"]))
    return {"src": probe(sample), "out": out, "frames": frames, "depth": depth,
            "spans": spans, "scenes": read_json(encoded["work"] / "scenes.json"),
            "work": encoded["work"], "output": encoded["output"]}


def run_checks(t: dict[str, Any], clip: bool = False) -> list[dict[str, Any]]:
    return [*checks(Probe.from_json(t["src"]), Probe.from_json(t["out"]), t["scenes"]["frames"],
                    t["frames"], 10, t["depth"], None, t.get("dolby_vision", False)),
            *timeline_checks(expected_spans(Scenes.from_json(t["scenes"])), t["spans"],
                             t["scenes"]["fps"], clip)]


@pytest.mark.e2e
def test_the_real_encode_passes_every_check(real: dict[str, Any]) -> None:
    result = run_checks(real)
    assert [c for c in result if not c["ok"]] == []
    names = {c["check"] for c in result}
    assert {"frame count", "video start (ms)", "audio 1 end (ms)", "subtitle 0 start (ms)",
            "rotation", "chapters", "attachments"} <= names


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """A mutation: set the item at *path* (keys and indices joined by '.') to *value*."""
    *head, last = path.split(".")

    def mutate(t: dict[str, Any]) -> None:
        node: Any = t
        for k in head:
            node = node[int(k)] if isinstance(node, list) else node[k]
        node[int(last) if isinstance(node, list) else last] = value
    return mutate


def _drop(path: str) -> Callable[[dict[str, Any]], None]:
    *head, last = path.split(".")

    def mutate(t: dict[str, Any]) -> None:
        node: Any = t
        for k in head:
            node = node[k]
        del node[int(last)]
    return mutate


MUTATIONS: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("a frame lost", lambda t: t.update(frames=t["frames"] - 1), "frame count"),
    ("not AV1", _set("out.video.format", "HEVC"), "video codec"),
    ("8 bits", lambda t: t.update(depth=8), "bit depth"),
    ("other dimensions", _set("out.video.width", 254), "dimensions"),
    ("still rotated", _set("out.video.rotation", 90), "rotation"),
    ("colour lost", _set("src.video.color_primaries", "BT.709"), "colour: color_primaries"),
    ("HDR10 metadata lost", _set("src.video.hdr.mastering_display", True),
     "HDR10 static metadata"),
    ("Dolby Vision lost", lambda t: t.update(dolby_vision=True), "Dolby Vision"),
    ("an audio track lost", _drop("out.audio.1"), "audio tracks"),
    ("audio not Opus", _set("out.audio.0.format", "AAC"), "audio codecs"),
    ("channels lost", _set("out.audio.0.channels", 2), "audio channels"),
    ("language lost", _set("out.audio.1.language", None), "audio languages"),
    ("a subtitle lost", _set("out.subtitles", []), "subtitle tracks"),
    ("subtitle language", _set("out.subtitles.0.language", "en"), "subtitle languages"),
    ("a chapter lost", _set("out.chapters", 2), "chapters"),
    ("attachment lost", _set("out.attachments", []), "attachments"),
    ("video moved", _set("spans.video.0", [1_000_000, 6_958_000]), "video start (ms)"),
    ("video cut short", _set("spans.video.0", [0, 5_000_000]), "video last frame (ms)"),
    ("audio late", _set("spans.audio.0", [100_000, 6_000_000]), "audio 0 start (ms)"),
    ("audio early", _set("spans.audio.1", [-40_000, 6_000_000]), "audio 1 start (ms)"),
    ("audio short", _set("spans.audio.1", [0, 5_500_000]), "audio 1 end (ms)"),
    ("audio long", _set("spans.audio.0", [0, 6_100_000]), "audio 0 end (ms)"),
    ("audio silent", _set("spans.audio.0", None), "audio 0 start (ms)"),
    ("subtitles moved", _set("spans.subtitles.0", [1_100_000, 4_000_000]),
     "subtitle 0 start (ms)"),
]


@pytest.mark.parametrize(("what", "mutate", "failing"), MUTATIONS,
                         ids=[m[0] for m in MUTATIONS])
@pytest.mark.e2e
def test_each_check_fails_when_its_thing_is_wrong(
        real: dict[str, Any], what: str, mutate: Callable[[dict[str, Any]], None],
        failing: str) -> None:
    t = copy.deepcopy(real)
    mutate(t)
    failed = [c["check"] for c in run_checks(t) if not c["ok"]]
    assert failing in failed, (what, failed)


@pytest.mark.e2e
def test_what_is_kept_differently_is_a_warning_not_a_failure(real: dict[str, Any]) -> None:
    """A title the output could not take and colour the source's container and stream
    disagree on are said, and fail no check."""
    t = copy.deepcopy(real)
    t["out"]["title"] = None
    t["src"]["video"]["colour_conflicts"] = {"matrix": {"container": "BT.601",
                                                        "stream": "BT.470 System B/G"}}
    assert [c["check"] for c in run_checks(t) if not c["ok"]] == []
    said = notes(Probe.from_json(t["src"]), Probe.from_json(t["out"]),
                 Scenes.from_json(t["scenes"]), None)
    assert said == ["colour: matrix: the container says BT.601, the video stream BT.470 "
                    "System B/G; the stream's is kept (what the decoder reads)",
                    f"title: the source's {t['src']['title']!r} could not be written "
                    "(the output has None)"]


@pytest.mark.e2e
def test_clip_subtitles_must_lie_within_the_clip(real: dict[str, Any]) -> None:
    t = copy.deepcopy(real)
    assert all(c["ok"] for c in run_checks(t, clip=True))
    t["spans"]["subtitles"][0] = [-1_000_000, 2_000_000]  # a cue from before the start
    failed = [c["check"] for c in run_checks(t, clip=True) if not c["ok"]]
    assert failed == ["subtitle 0 within the clip (ms)"]


@pytest.mark.e2e
def test_a_failed_validation_stops_with_one_line_naming_the_check(
        real: dict[str, Any], tmp_path: Path) -> None:
    """run_validate on the real output, against a source said to have one more audio track:
    it raises naming the output and the check, and writes validation.json saying so."""
    src = copy.deepcopy(real["src"])
    src["audio"].append({**src["audio"][0], "index": 2})
    target = tmp_path / "validation.json"
    work = real["work"]
    with pytest.raises(DraptoError, match=r"out\.mkv failed validation: audio tracks: "
                                          r"expected 3, got 2"):
        scenes = Scenes.from_json(real["scenes"])
        run_validate(Probe.from_json(src), scenes, real["output"], 10, work / "crop.json",
                     [work / "encoded" / f"{sid}.json" for sid in segment_ids(scenes)],
                     target)
    assert read_json(target)["ok"] is False

"""What every segment's encode of one input is handed, typed: the encoding policy
(:class:`Video`) and, with quality targeting, the search's settings (:class:`Quality`), under
the settings' own names. Both are part of the encode's key (as JSON) and travel to a
cluster worker as JSON (:meth:`Video.to_json`, :meth:`Video.from_json`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from drapto.media.records import DolbyVision, Probe, Scenes, VideoStream
from drapto.quality import decisions as quality
from drapto.quality import vmaf
from drapto.settings import Settings

DEINTERLACE = "bwdif=mode=send_frame:parity=auto:deint=interlaced"
# SVT-AV1 refuses a frame rate above this; FFmpeg guesses such rates from fine-grained or
# irregular timestamps (two rates mixed: 24 and 25 fps give 600), and some files really are
# faster (frames 1/600 s apart).
MAX_ENCODER_FPS = 240.0
# The slowest rate handed to SVT-AV1: one frame in 1000 s (it accepts far less).
MIN_ENCODER_FPS = Fraction(1, 1000)


@dataclass(frozen=True)
class Quality:
    """Quality targeting's settings for one input (``target_vmaf`` is the input's: the SDR
    or the HDR one), and the VMAF model and pixel format it is scored with."""
    target_vmaf: float
    vmaf_tolerance: float
    vmaf_overshoot: float
    crf_min: float
    crf_max: float
    search_attempts: int
    vmaf_pool: str
    search_start_crf: float
    preset: int
    search_preset: int
    search: str
    search_sample: float
    vmaf_subsample: int
    vmaf_model: str
    vmaf_scoring: str

    @classmethod
    def of(cls, s: Settings, video: VideoStream) -> Quality:
        return cls(target_vmaf=s.target_vmaf_hdr if video.hdr.is_hdr else s.target_vmaf,
                   vmaf_tolerance=s.vmaf_tolerance, vmaf_overshoot=s.vmaf_overshoot,
                   crf_min=s.crf_min, crf_max=s.crf_max, search_attempts=s.search_attempts,
                   vmaf_pool=s.vmaf_pool, search_start_crf=s.search_start_crf,
                   preset=s.preset, search_preset=s.search_preset, search=s.search,
                   search_sample=s.search_sample,
                   vmaf_subsample=s.vmaf_subsample,
                   vmaf_model=vmaf.model_for(video.width, video.height),
                   vmaf_scoring=vmaf.scoring_format(video.bit_depth, s.pixel_format))

    @property
    def probing(self) -> bool:
        """Whether the search starts with fast-preset probes (``search=probes``, at another
        preset than the final): else the final encodes are the search."""
        return self.search == "probes" and self.search_preset != self.preset

    def at(self, target_vmaf: float) -> Quality:
        """The same settings for another target (a film's lowered one)."""
        return dataclasses.replace(self, target_vmaf=target_vmaf)

    def target(self) -> quality.Target:
        """The band a final encode is kept in."""
        return quality.Target(self.target_vmaf, self.vmaf_tolerance, self.crf_min,
                              self.crf_max, self.search_attempts, self.vmaf_overshoot)

    def scoring(self, subsample: int) -> vmaf.Scoring:
        return vmaf.Scoring(self.vmaf_model, subsample, self.vmaf_scoring)


def decoder_options(decoder: str | None) -> list[str]:
    """Input options that make FFmpeg decode the source's video with *decoder*, where its
    demuxer names none (probe.json's ``decoder``: a ``dav1`` sample entry)."""
    return ["-c:v", decoder] if decoder else []


@dataclass(frozen=True)
class Picture:
    """One picture for a video whose decoded frames change size, format or range midway:
    every frame is scaled to fit *width* x *height* (its aspect kept, padded, never
    stretched) in *range* (FFmpeg's tv or pc); *resized*: the size itself changes (then
    crop detection, made on frames of several sizes, is not applied)."""
    width: int
    height: int
    range: str
    resized: bool

    def filters(self) -> list[str]:
        w, h = self.width, self.height
        return [f"scale={w}:{h}:force_original_aspect_ratio=decrease:force_divisible_by=2"
                f":out_range={self.range}", f"pad={w}:{h}:-1:-1"]

    @classmethod
    def of(cls, probe: Probe, scenes: Scenes) -> Picture | None:
        """The largest picture of the stream (the main programme, where adverts or inserts
        are smaller), in the range of its first frame; None when nothing changes."""
        if not scenes.changes:
            return None
        v = probe.video
        sizes = [(v.width, v.height), *((c.width, c.height) for c in scenes.changes)]
        w, h = max(sizes, key=lambda wh: wh[0] * wh[1])
        return cls(w - w % 2, h - h % 2, "pc" if v.color_range == "Full" else "tv",
                   len(set(sizes)) > 1)


# MediaInfo's colour names and FFmpeg's (setparams), for tags the encoder must be told.
FFMPEG_COLOUR = {
    "color_primaries": {"BT.709": "bt709", "BT.470 System M": "bt470m", "BT.601 PAL": "bt470bg",
                        "BT.601 NTSC": "smpte170m", "SMPTE 240M": "smpte240m",
                        "Generic film": "film", "BT.2020": "bt2020", "XYZ": "smpte428",
                        "DCI P3": "smpte431", "Display P3": "smpte432",
                        "EBU Tech 3213": "jedec-p22"},
    "transfer": {"BT.709": "bt709", "BT.470 System M": "bt470m", "BT.470 System B/G": "bt470bg",
                 "BT.601": "smpte170m", "SMPTE 240M": "smpte240m", "Linear": "linear",
                 "xvYCC": "iec61966-2-4", "BT.1361": "bt1361e", "sRGB/sYCC": "iec61966-2-1",
                 "BT.2020 (10-bit)": "bt2020-10", "BT.2020 (12-bit)": "bt2020-12",
                 "PQ": "smpte2084", "SMPTE 428M": "smpte428", "HLG": "arib-std-b67"},
    "matrix": {"Identity": "gbr", "BT.709": "bt709", "FCC 73.682": "fcc",
               "BT.470 System B/G": "bt470bg", "BT.601": "smpte170m", "SMPTE 240M": "smpte240m",
               "YCgCo": "ycgco", "BT.2020 non-constant": "bt2020nc",
               "BT.2020 constant": "bt2020c", "ICtCp": "ictcp"},
    "color_range": {"Limited": "tv", "Full": "pc"},
}
_SETPARAMS = {"color_primaries": "color_primaries", "transfer": "color_trc",
              "matrix": "colorspace", "color_range": "range"}


def colour_filter(video: VideoStream) -> str | None:
    """A filter that tags the frames with the colour the stream leaves unspecified and the
    container states (:func:`drapto.media.probing.colour_of`), or None."""
    tags = [f"{_SETPARAMS[t]}={FFMPEG_COLOUR[t][str(video.colour(t))]}"
            for t in video.colour_explicit if str(video.colour(t)) in FFMPEG_COLOUR[t]]
    return f"setparams={':'.join(tags)}" if tags else None


@dataclass(frozen=True)
class Video:
    """The encoding policy for one input: what SVT-AV1 is given for every segment."""
    preset: int
    pixel_format: str
    svt_params: str
    crf: float
    filters: tuple[str, ...] = ()
    dolby_vision: DolbyVision | None = None      # the source's configuration, when kept
    quality: Quality | None = None                # quality targeting, or a fixed CRF
    encoder_fps: tuple[int, int] | None = None    # given to SVT-AV1 when FFmpeg's won't do
    # Written in the key only when set (an encode of any other file keeps its key).
    stream: int = 0                               # the video stream, among FFmpeg's 0:V
    decoder: str | None = None                    # the decoder FFmpeg must be told
    picture: Picture | None = None                # one picture for a stream that changes

    @classmethod
    def of(cls, s: Settings, probe: Probe, scenes: Scenes) -> Video:
        v = probe.video
        deint = s.deinterlace == "on" or (s.deinterlace == "auto" and v.interlaced)
        dv = v.hdr.dolby_vision if s.dolby_vision == "auto" else None
        colour = colour_filter(v)
        return cls(preset=s.preset, pixel_format=s.pixel_format, svt_params=s.svt_params,
                   crf=s.crf_for_dolby_vision(v.width) if dv else s.crf_for(v.height),
                   filters=(*((DEINTERLACE,) if deint else ()), *((colour,) if colour else ())),
                   dolby_vision=dv or None,
                   quality=Quality.of(s, v) if s.quality == "vmaf" else None,
                   encoder_fps=encoder_rate(probe, scenes), stream=probe.video_index,
                   decoder=probe.decoder, picture=Picture.of(probe, scenes))

    def input(self) -> list[str]:
        """Options before the source's ``-i``: its decoder, and one filter graph for frames
        whose parameters change (the normalising filters take each as it comes)."""
        return [*decoder_options(self.decoder),
                *(["-reinit_filter", "0"] if self.picture else [])]

    def key_json(self) -> dict[str, Any]:
        """The policy as it enters a key: its JSON without the fields left at their
        default (the keys of every encode made before they existed stay the same)."""
        data = self.to_json()
        for name in ("stream", "decoder", "picture"):
            if not data[name]:
                del data[name]
        return data

    def at(self, crf: float, preset: int | None = None) -> Video:
        """The same policy at another CRF (and preset: a probe's)."""
        return dataclasses.replace(self, crf=crf, preset=self.preset if preset is None
                                   else preset)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Video:
        q = data.get("quality")
        fps = data.get("encoder_fps")
        dv = data.get("dolby_vision")
        pic = data.get("picture")
        return cls(**{**data, "filters": tuple(data.get("filters") or ()),
                      "quality": Quality(**q) if q else None,
                      "dolby_vision": DolbyVision(**dv) if dv else None,
                      "encoder_fps": (int(fps[0]), int(fps[1])) if fps else None,
                      "picture": Picture(**pic) if pic else None})


def encoder_rate(probe: Probe, scenes: Scenes) -> tuple[int, int] | None:
    """The frame rate to give SVT-AV1 as (num, den) when the one FFmpeg guessed from the
    timestamps is unknown or beyond what SVT-AV1 accepts: the rate the scene pass measured,
    brought within SVT-AV1's range; else None (FFmpeg's own). The rate only steers the
    encoder's rate control: every frame keeps its own timestamp (``-fps_mode passthrough``)."""
    guessed = float(probe.video.ffmpeg_fps or 0)
    if 0 < guessed <= MAX_ENCODER_FPS:
        return None
    measured = Fraction(scenes.fps).limit_denominator(1001)
    rate = min(max(measured, MIN_ENCODER_FPS), Fraction(MAX_ENCODER_FPS))
    return rate.numerator, rate.denominator


def dolby_vision_blocker(dv: DolbyVision) -> str | None:
    """Why libsvtav1 cannot carry this Dolby Vision over, or None if it can."""
    if dv.profile == 9:
        return "profile 9 cannot be converted to AV1 profile 10"
    if dv.profile == 10 and not dv.compatibility:
        return "profile 10 without a compatibility id cannot be converted"
    return None

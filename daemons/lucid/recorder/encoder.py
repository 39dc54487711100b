"""Choose and configure the H.264 encoder for a recording.

`probe_encoder` really opens each codec of the preference list (a hardware
`h264_v4l2m2m` is listed in every FFmpeg build but opens only where the V4L2
device exists, e.g. `/dev/video11` on a Raspberry Pi 4) and encodes one test
frame; the first that works is returned as an `EncoderChoice`, whose `facts()`
go into the manifest's `encoder.settings`. `configure_codec_context` applies the
same settings to the real encoder, so what was probed is what runs.

This module does not capture, convert pixels or mux: see `capture` and `pipeline`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from fractions import Fraction

import av
from av.video.codeccontext import VideoCodecContext
from av.video.frame import VideoFrame

from lucid.recorder.errors import EncoderError

__all__ = [
    "COLORSPACE_BT709",
    "COLOR_PRIMARIES_BT709",
    "COLOR_RANGE_LIMITED",
    "COLOR_TRC_SRGB",
    "PIX_FMT",
    "EncoderChoice",
    "EncoderSettings",
    "codec_options",
    "configure_codec_context",
    "probe_encoder",
]

_log = logging.getLogger(__name__)

# Every H.264 decoder handles 8-bit 4:2:0; it is also what both encoders take.
PIX_FMT = "yuv420p"
# Desktop pixels are sRGB: convert with the BT.709 matrix into limited range and
# tag the stream so that players do not guess BT.601 for HD sizes.
COLORSPACE_BT709 = 1  # AVCOL_SPC_BT709
COLOR_PRIMARIES_BT709 = 1  # AVCOL_PRI_BT709 (= sRGB primaries)
COLOR_TRC_SRGB = 13  # AVCOL_TRC_IEC61966_2_1
COLOR_RANGE_LIMITED = 1  # AVCOL_RANGE_MPEG


@dataclass(frozen=True)
class EncoderSettings:
    """What the recorder asks of the encoder and the fragmented-MP4 muxer."""

    codecs: tuple[str, ...] = ("h264_v4l2m2m", "libx264")  # preference order
    fps: int = 15  # capture and encode frame rate, frames per second
    preset: str = "superfast"  # libx264: unlike ultrafast it keeps CABAC (~20-33% fewer bits)
    crf: int = 23  # libx264 constant rate factor (quality; lower is better and bigger)
    tune: str = "zerolatency"  # libx264: no frame lookahead, no B-frames
    gop_seconds: float = 2.0  # keyframe interval, seconds
    bitrate: int = 2_000_000  # bits per second, for encoders without CRF (h264_v4l2m2m)
    threads: int = 0  # encoder threads; 0 lets the encoder decide
    fragment_seconds: float = 1.0  # fMP4 fragment duration and spool segment interval, s

    @property
    def gop_frames(self) -> int:
        """The keyframe interval in frames (at least 1)."""
        return max(1, round(self.fps * self.gop_seconds))


@dataclass(frozen=True)
class EncoderChoice:
    """The encoder that opened, with the exact codec options it was opened with.

    Attributes:
        name: FFmpeg encoder name, e.g. ``"libx264"``.
        options: codec options (FFmpeg AVOptions) passed when opening.
        fps: frame rate the encoder was configured for.
        rejected: (name, reason) of each preferred encoder that failed to open.
    """

    name: str
    options: dict[str, str] = field(default_factory=dict)
    fps: int = 15
    rejected: tuple[tuple[str, str], ...] = ()

    def facts(self) -> dict[str, str]:
        """Describe the encoder for the manifest's ``encoder.settings``.

        Returns:
            A flat str -> str mapping: codec, its options, pixel format, frame
            rate, colour tags, the FFmpeg/PyAV versions and rejected encoders.
        """
        facts = {
            "codec": self.name,
            "pix_fmt": PIX_FMT,
            "fps": str(self.fps),
            "colorspace": "bt709",
            "color_range": "tv",
            "container": "mp4-fragmented",
            "ffmpeg": str(av.ffmpeg_version_info),
            "pyav": av.__version__,
        }
        for key, value in sorted(self.options.items()):
            facts[f"option.{key}"] = value
        if self.rejected:
            facts["rejected"] = ",".join(name for name, _ in self.rejected)
        return facts


def codec_options(name: str, settings: EncoderSettings) -> dict[str, str]:
    """The FFmpeg codec options for encoder ``name`` under ``settings``.

    Args:
        name: FFmpeg encoder name.
        settings: the recorder's encoder settings.

    Returns:
        Options for ``avcodec_open2``: CRF/preset/tune for libx264, a bit rate for
        others; the keyframe interval (``g``) for all.
    """
    options = {"g": str(settings.gop_frames)}
    if name == "libx264":
        options.update(preset=settings.preset, tune=settings.tune, crf=str(settings.crf))
    else:
        options["b"] = str(settings.bitrate)
    return options


def configure_codec_context(
    context: VideoCodecContext, choice: EncoderChoice, width: int, height: int
) -> None:
    """Set size, pixel format, time base, colour tags and options before opening.

    Args:
        context: an unopened encoder context (a stream's or a standalone one).
        choice: the encoder and options to apply.
        width: frame width in pixels (even).
        height: frame height in pixels (even).
    """
    context.width = width
    context.height = height
    context.pix_fmt = PIX_FMT
    context.time_base = Fraction(1, choice.fps)
    context.framerate = Fraction(choice.fps, 1)
    context.colorspace = COLORSPACE_BT709
    context.color_primaries = COLOR_PRIMARIES_BT709
    context.color_trc = COLOR_TRC_SRGB
    context.color_range = COLOR_RANGE_LIMITED
    context.options = dict(choice.options)


def probe_encoder(settings: EncoderSettings, width: int, height: int) -> EncoderChoice:
    """Open each preferred encoder in turn and return the first that works.

    Each candidate is opened at the real size and encodes one frame, so a
    hardware encoder whose device is missing, busy or limited in size is skipped.

    Args:
        settings: encoder settings; ``settings.codecs`` is the preference order.
        width: frame width in pixels (even).
        height: frame height in pixels (even).

    Raises:
        EncoderError: no encoder of the list could be opened.

    Returns:
        The encoder that opened, its options, and the ones rejected before it.
    """
    rejected: list[tuple[str, str]] = []
    for name in settings.codecs:
        choice = EncoderChoice(
            name=name,
            options=codec_options(name, settings),
            fps=settings.fps,
            rejected=tuple(rejected),
        )
        try:
            _try_encoder(choice, width, height, settings.threads)
        except (av.FFmpegError, ValueError, OSError) as err:
            _log.info("encoder %s does not open: %s", name, err)
            rejected.append((name, str(err)))
            continue
        return choice
    tried = "; ".join(f"{name}: {reason}" for name, reason in rejected) or "none listed"
    raise EncoderError(
        f"no H.264 encoder opens at {width}x{height} ({tried}); "
        "install an FFmpeg/PyAV build with libx264"
    )


def _try_encoder(choice: EncoderChoice, width: int, height: int, threads: int) -> None:
    """Open ``choice`` at ``width``x``height``, encode one black frame, flush."""
    context = av.CodecContext.create(choice.name, "w")
    if not isinstance(context, VideoCodecContext):
        raise ValueError(f"{choice.name} is not a video encoder")
    configure_codec_context(context, choice, width, height)
    context.thread_count = threads
    context.open()
    frame = VideoFrame(width, height, PIX_FMT)
    for plane, fill in zip(frame.planes, (16, 128, 128), strict=True):
        plane.update(bytes([fill]) * plane.buffer_size)
    frame.pts = 0
    packets = context.encode(frame)
    packets += context.encode(None)
    if not packets:
        raise ValueError(f"{choice.name} produced no packet for a test frame")

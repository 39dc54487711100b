"""Encoder probing: the preference list is really opened, the winner is recorded."""

from __future__ import annotations

from pathlib import Path

import av
import pytest
from av.video.codeccontext import VideoCodecContext

from lucid.recorder.encoder import (
    EncoderChoice,
    EncoderSettings,
    codec_options,
    configure_codec_context,
    probe_encoder,
)
from lucid.recorder.errors import EncoderError

HAS_V4L2_ENCODER = Path("/dev/video11").exists()


@pytest.mark.skipif(HAS_V4L2_ENCODER, reason="this machine has a V4L2 M2M encoder device")
def test_probe_skips_v4l2m2m_without_device_and_picks_libx264() -> None:
    choice = probe_encoder(EncoderSettings(), 640, 480)

    assert choice.name == "libx264"
    assert [name for name, _ in choice.rejected] == ["h264_v4l2m2m"]
    assert choice.options == {"g": "30", "preset": "superfast", "tune": "zerolatency", "crf": "23"}


def test_facts_record_the_encoder_that_ran() -> None:
    choice = probe_encoder(EncoderSettings(codecs=("libx264",), fps=10, gop_seconds=3), 320, 240)

    facts = choice.facts()

    assert facts["codec"] == "libx264"
    assert facts["option.g"] == "30"
    assert facts["option.preset"] == "superfast"
    assert facts["option.crf"] == "23"
    assert facts["fps"] == "10"
    assert facts["pix_fmt"] == "yuv420p"
    assert facts["ffmpeg"] == av.ffmpeg_version_info
    assert "rejected" not in facts
    assert all(isinstance(value, str) for value in facts.values())


def test_unknown_and_unopenable_encoders_raise_encoder_error() -> None:
    settings = EncoderSettings(codecs=("no_such_encoder", "mjpeg_but_not_h264"))

    with pytest.raises(EncoderError, match="no_such_encoder"):
        probe_encoder(settings, 320, 240)


def test_odd_size_is_rejected_by_libx264_and_reported() -> None:
    with pytest.raises(EncoderError, match="libx264"):
        probe_encoder(EncoderSettings(codecs=("libx264",)), 321, 240)


def test_hardware_encoder_gets_a_bitrate_not_a_crf() -> None:
    settings = EncoderSettings(bitrate=1_500_000, fps=30, gop_seconds=1)

    assert codec_options("h264_v4l2m2m", settings) == {"g": "30", "b": "1500000"}
    assert settings.gop_frames == 30


def test_configured_context_opens_with_the_probed_options() -> None:
    choice = EncoderChoice("libx264", codec_options("libx264", EncoderSettings()), fps=15)
    context = av.CodecContext.create("libx264", "w")
    assert isinstance(context, VideoCodecContext)

    configure_codec_context(context, choice, 320, 240)
    context.open()

    assert context.gop_size == 30
    assert (context.width, context.height, context.pix_fmt) == (320, 240, "yuv420p")

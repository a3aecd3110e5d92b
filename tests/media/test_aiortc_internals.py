"""Fails loudly when aiortc or aioice no longer has the private names the relay relies on.

If this fails after an upgrade: read media/aiortc_internals.py, check each code path against the new aiortc,
adapt, then move the pin (pyproject.toml and PINNED_AIORTC_VERSION) together.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import aiortc
import pytest
from aiortc import RTCRtpReceiver

from media import aiortc_internals


def test_the_installed_aiortc_is_the_pinned_one() -> None:
    assert aiortc.__version__ == aiortc_internals.PINNED_AIORTC_VERSION


def test_every_private_name_has_the_expected_shape() -> None:
    aiortc_internals.check()  # raises AiortcInternalsError naming what changed


def test_the_check_notices_a_changed_name(monkeypatch: pytest.MonkeyPatch) -> None:
    async def renamed(self: RTCRtpReceiver, ssrc: int) -> None: ...

    monkeypatch.setattr(RTCRtpReceiver, "_send_rtcp_pli", renamed)
    with pytest.raises(aiortc_internals.AiortcInternalsError, match="_send_rtcp_pli"):
        aiortc_internals.check()


def test_the_check_notices_another_version(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aiortc, "__version__", "1.17.0")
    with pytest.raises(aiortc_internals.AiortcInternalsError, match=r"1\.17\.0"):
        aiortc_internals.check()


def test_no_other_module_touches_aiortc_privates() -> None:
    import media.forwarding
    import media.ice
    import media.negotiation
    import media.room

    for module in (media.forwarding, media.ice, media.room, media.negotiation):
        source = inspect.getsource(module)
        for name in (
            "._send_rtcp_pli",
            "._send_keyframe",
            "._stream_id",
            "._codecs",
            "_RTCRtpReceiver__",
            "._connection",
            "._data",
        ):
            assert name not in source, f"{module.__name__} uses {name}: keep it in media/aiortc_internals.py"


def test_ntp_now_is_aiortcs_ntp_time() -> None:
    from aiortc import clock

    from media.aiortc_internals import ntp_now

    before, ours, after = clock.current_ntp_time(), ntp_now(), clock.current_ntp_time()
    slack = 1 << 26  # about 16 ms in NTP's 2^-32 s units
    assert before - slack <= ours <= after + slack


def test_a_stale_build_of_the_compiled_fast_path_is_refused(tmp_path: Path) -> None:
    # The module in use was built from the fastpath.pyx beside it; any other source is noticed.
    aiortc_internals.check_fastpath_build()
    edited = tmp_path / "fastpath.pyx"
    edited.write_bytes(aiortc_internals._FASTPATH_SOURCE.read_bytes() + b"\n# edited\n")
    with pytest.raises(aiortc_internals.AiortcInternalsError, match="rebuild"):
        aiortc_internals.check_fastpath_build(edited)


def test_the_compiled_fast_path_is_the_one_in_use() -> None:
    # The relay's per-packet classes come from the extension module, not from Python source.
    from media import fastpath, forwarding

    assert Path(fastpath.__file__).suffix == ".so"
    assert forwarding.FrameAssembler is fastpath.FrameAssembler
    assert aiortc_internals.RtpWriter is fastpath.RtpWriter

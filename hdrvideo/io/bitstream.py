"""Find and rewrite the content light level (CTA-861.3 MaxCLL/MaxFALL) inside coded video.

The writer measures MaxCLL/MaxFALL while it encodes, so the true values are known only at
the end; the encoder has by then written a placeholder. This module rewrites that
placeholder in the coded bytes, without touching anything else:

======================  ==============================================  ===========================
codec                   where the light level sits                      reference
======================  ==============================================  ===========================
HEVC (H.265)            prefix SEI NAL unit (type 39), SEI message       H.265 7.3.5, D.2.35
                        ``payloadType`` 144 ``content_light_level_info``
AVC (H.264)             SEI NAL unit (type 6), SEI message               H.264 7.3.2.3, D.1.35
                        ``payloadType`` 144
AV1                     metadata OBU (type 5), ``metadata_type``         AV1 spec 5.8.1, 5.8.3
                        ``METADATA_TYPE_HDR_CLL`` (1)
======================  ==============================================  ===========================

The payload is the same in all three: ``max_content_light_level`` then
``max_pic_average_light_level``, each an unsigned 16-bit big-endian integer in cd/m².

H.264/H.265 NAL units are **emulation-prevented**: inside a NAL unit the byte pair
``00 00`` followed by ``00``-``03`` is written as ``00 00 03 0x`` (H.265 7.4.2, H.264
7.4.1), so a NAL unit is first unescaped into its RBSP, the SEI messages are walked (their
type and size are coded as runs of ``FF`` bytes plus a last byte, H.265 7.3.5), the 4 bytes
replaced, and the RBSP escaped again. A changed value can add or remove ``03`` bytes, so a
NAL unit may change length: that is why the writer rewrites whole packets during a remux
rather than patching a file in place. AV1 has no emulation prevention and a fixed-size
payload, so the OBU is rewritten in place.

Byte streams are handled as the encoders emit them: Annex B (start codes ``00 00 01``) for
H.264/H.265 packets and extradata, low-overhead OBUs (``obu_has_size_field``) for AV1
packets and extradata (an ``av1C`` record's configOBUs are handled too).

=============================  =========================================================
function                       does
=============================  =========================================================
:func:`unescape_rbsp`          NAL unit bytes -> RBSP (emulation prevention removed)
:func:`escape_rbsp`            RBSP -> NAL unit bytes (emulation prevention inserted)
:func:`annexb_nal_units`       ``(start, end)`` of every NAL unit of an Annex B stream
:func:`read_content_light_levels`   the ``(MaxCLL, MaxFALL)`` pairs a chunk carries
:func:`patch_content_light_level`   a chunk with every light level replaced, and a count
=============================  =========================================================
"""

from __future__ import annotations

from collections.abc import Iterator

__all__ = [
    "CLL_SEI_PAYLOAD_TYPE",
    "AV1_METADATA_TYPE_HDR_CLL",
    "unescape_rbsp",
    "escape_rbsp",
    "annexb_nal_units",
    "read_content_light_levels",
    "patch_content_light_level",
]

#: SEI ``payloadType`` of ``content_light_level_info`` (H.265 D.2.35, H.264 D.1.35).
CLL_SEI_PAYLOAD_TYPE = 144
#: NAL unit types that carry SEI messages able to hold a light level.
HEVC_PREFIX_SEI_NUT = 39
AVC_SEI_NUT = 6
#: AV1 ``obu_type`` OBU_METADATA and ``metadata_type`` METADATA_TYPE_HDR_CLL (AV1 6.7.1).
AV1_OBU_METADATA = 5
AV1_METADATA_TYPE_HDR_CLL = 1

CODECS = ("hevc", "h264", "av1")


def _check_levels(max_cll_nits: int, max_fall_nits: int) -> bytes:
    values = (int(max_cll_nits), int(max_fall_nits))
    if not all(0 <= v <= 0xFFFF for v in values):
        raise ValueError(f"MaxCLL/MaxFALL {values} do not fit 16 bits (0..65535 cd/m²)")
    return values[0].to_bytes(2, "big") + values[1].to_bytes(2, "big")


def _check_codec(codec: str) -> None:
    if codec not in CODECS:
        raise ValueError(f"unknown codec {codec!r}; valid: {', '.join(CODECS)}")


# -- emulation prevention (H.264 7.4.1, H.265 7.4.2) ----------------------------------------
def unescape_rbsp(nal: bytes) -> bytes:
    """Remove emulation prevention bytes: every ``00 00 03`` becomes ``00 00``."""
    if b"\x00\x00\x03" not in nal:
        return bytes(nal)
    out = bytearray()
    zeros = 0
    for byte in nal:
        if zeros >= 2 and byte == 3:
            zeros = 0
            continue
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return bytes(out)


def escape_rbsp(rbsp: bytes) -> bytes:
    """Insert emulation prevention bytes: ``00 00`` followed by ``00``-``03`` gets a ``03``
    between; an RBSP that ends in ``00`` gets a final ``03`` (H.265 7.4.2)."""
    out = bytearray()
    zeros = 0
    for byte in rbsp:
        if zeros >= 2 and byte <= 3:
            out.append(3)
            zeros = 0
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    if out and out[-1] == 0:
        out.append(3)
    return bytes(out)


# -- Annex B --------------------------------------------------------------------------------
def annexb_nal_units(data: bytes) -> Iterator[tuple[int, int]]:
    """``(start, end)`` of each NAL unit of an Annex B byte stream (start codes excluded).

    Zero bytes before the next start code (the ``zero_byte`` of a 4-byte start code,
    ``trailing_zero_8bits``) are not part of the NAL unit; a NAL unit never ends in
    ``00`` (its RBSP ends in the stop bit, escaped if needed), so stripping them is exact.
    """
    i = data.find(b"\x00\x00\x01")
    while i >= 0:
        start = i + 3
        j = data.find(b"\x00\x00\x01", start)
        end = len(data) if j < 0 else j
        while end > start and data[end - 1] == 0:
            end -= 1
        yield start, end
        i = j


def _is_sei(nal: bytes, codec: str) -> bool:
    if not nal:
        return False
    if codec == "hevc":
        return len(nal) > 2 and (nal[0] >> 1) & 0x3F == HEVC_PREFIX_SEI_NUT
    return (nal[0] & 0x1F) == AVC_SEI_NUT


def _sei_cll_offsets(rbsp: bytes, header_size: int) -> list[int]:
    """Offsets in ``rbsp`` of the 4-byte payloads of every CLL SEI message."""
    offsets = []
    pos = header_size
    end = len(rbsp)
    # sei_rbsp(): sei_message()s until only rbsp_trailing_bits() (0x80) remain.
    while pos < end and not (pos == end - 1 and rbsp[pos] == 0x80):
        payload_type = 0
        while pos < end and rbsp[pos] == 0xFF:
            payload_type += 255
            pos += 1
        if pos >= end:
            break
        payload_type += rbsp[pos]
        pos += 1
        payload_size = 0
        while pos < end and rbsp[pos] == 0xFF:
            payload_size += 255
            pos += 1
        if pos >= end:
            break
        payload_size += rbsp[pos]
        pos += 1
        if pos + payload_size > end:
            break  # damaged SEI: leave the rest alone
        if payload_type == CLL_SEI_PAYLOAD_TYPE and payload_size == 4:
            offsets.append(pos)
        pos += payload_size
    return offsets


def _walk_annexb(data: bytes, codec: str, payload: bytes | None) -> tuple[bytes, list[tuple[int, int]]]:
    header_size = 2 if codec == "hevc" else 1
    found: list[tuple[int, int]] = []
    out = bytearray()
    copied = 0
    for start, end in annexb_nal_units(data):
        nal = data[start:end]
        if not _is_sei(nal, codec):
            continue
        rbsp = unescape_rbsp(nal)
        offsets = _sei_cll_offsets(rbsp, header_size)
        if not offsets:
            continue
        for off in offsets:
            found.append(
                (int.from_bytes(rbsp[off : off + 2], "big"), int.from_bytes(rbsp[off + 2 : off + 4], "big"))
            )
        if payload is not None:
            patched = bytearray(rbsp)
            for off in offsets:
                patched[off : off + 4] = payload
            out += data[copied:start]
            out += escape_rbsp(bytes(patched))
            copied = end
    if payload is None or copied == 0:
        return bytes(data), found
    out += data[copied:]
    return bytes(out), found


# -- AV1 OBUs -------------------------------------------------------------------------------
def _leb128(data: bytes, pos: int) -> tuple[int, int]:
    """Read an AV1 ``leb128()`` (4.10.5): value and the position after it."""
    value = 0
    for i in range(8):
        if pos >= len(data):
            raise ValueError("truncated leb128")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            return value, pos
    raise ValueError("leb128 longer than 8 bytes")


def _av1_cll_offsets(data: bytes) -> list[int]:
    """Offsets of the 4-byte payloads of every HDR_CLL metadata OBU in a chunk of OBUs."""
    pos = 0
    # An av1C record (ISO/IEC av1-isobmff 2.3.3): marker 1, version 1, then 3 bytes, then
    # configOBUs. A bare OBU never starts with 0x81 (the forbidden bit would be set).
    if len(data) >= 4 and data[0] == 0x81:
        pos = 4
    offsets = []
    end = len(data)
    while pos < end:
        header = data[pos]
        if header & 0x80:
            break  # forbidden bit: not an OBU stream we understand
        obu_type = (header >> 3) & 0x0F
        has_extension = bool(header & 0x04)
        has_size = bool(header & 0x02)
        pos += 2 if has_extension else 1
        try:
            size, pos = _leb128(data, pos) if has_size else (end - pos, pos)
        except ValueError:
            break
        if pos + size > end:
            break
        if obu_type == AV1_OBU_METADATA and size >= 1:
            try:
                metadata_type, body = _leb128(data, pos)
            except ValueError:
                break
            if metadata_type == AV1_METADATA_TYPE_HDR_CLL and body + 4 <= pos + size:
                offsets.append(body)
        pos += size
    return offsets


# -- public ---------------------------------------------------------------------------------
def read_content_light_levels(data: bytes, codec: str) -> list[tuple[int, int]]:
    """Every ``(MaxCLL, MaxFALL)`` (cd/m²) that a packet or extradata carries, in order.

    Args:
        data: Annex B bytes (``codec`` ``"hevc"`` or ``"h264"``) or AV1 OBUs / ``av1C``
            (``"av1"``).
        codec: ``"hevc"``, ``"h264"`` or ``"av1"``.
    """
    _check_codec(codec)
    data = bytes(data)
    if codec == "av1":
        return [
            (int.from_bytes(data[o : o + 2], "big"), int.from_bytes(data[o + 2 : o + 4], "big"))
            for o in _av1_cll_offsets(data)
        ]
    return _walk_annexb(data, codec, None)[1]


def patch_content_light_level(data: bytes, codec: str, max_cll_nits: int, max_fall_nits: int) -> tuple[bytes, int]:
    """Replace every content light level in ``data`` with ``(max_cll_nits, max_fall_nits)``.

    Returns:
        ``(new_bytes, count)``: the rewritten chunk (the very same bytes when ``count`` is 0)
        and how many light levels were replaced. H.264/H.265 chunks may change length
        (emulation prevention); AV1 chunks keep theirs.

    Raises:
        ValueError: a value outside 0..65535, or an unknown codec.
    """
    _check_codec(codec)
    payload = _check_levels(max_cll_nits, max_fall_nits)
    data = bytes(data)
    if codec == "av1":
        offsets = _av1_cll_offsets(data)
        if not offsets:
            return data, 0
        patched = bytearray(data)
        for off in offsets:
            patched[off : off + 4] = payload
        return bytes(patched), len(offsets)
    new, found = _walk_annexb(data, codec, payload)
    return new, len(found)

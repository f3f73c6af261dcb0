"""Damaged bundle zips, built from a shipped bundle: cut short, a member changed, a member
whose headers lie about its size."""

from __future__ import annotations

import io
import zipfile

from templates_lib import BUNDLES_DIR, read_dir, to_zip

FILES = read_dir(BUNDLES_DIR / "large-order-finance-review")
GOOD = to_zip(FILES)


def _member_offset(data: bytes, name: str) -> tuple[int, int]:
    """Where the stored bytes of member ``name`` begin, and how many there are."""
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo(name)
    header = data[info.header_offset : info.header_offset + 30]
    name_len = int.from_bytes(header[26:28], "little")
    extra_len = int.from_bytes(header[28:30], "little")
    return info.header_offset + 30 + name_len + extra_len, info.compress_size


def damaged_member(data: bytes, name: str, stored: bool) -> bytes:
    """``data`` with the middle of member ``name``'s bytes changed."""
    if stored:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
            for member, content in FILES.items():
                archive.writestr(member, content)
        data = buffer.getvalue()
    start, size = _member_offset(data, name)
    # Stored: text changed in the middle (the CRC no longer matches). Deflated: the first
    # block header made a reserved block type (zlib: invalid block type).
    first = start + size // 2 if stored else start
    damaged = bytearray(data)
    for i in range(first, first + 8):
        damaged[i] ^= 0xFF
    return bytes(damaged)


def lying_size() -> bytes:
    """A member of 50 MiB of zeros whose headers say it holds 100 bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for member, content in FILES.items():
            archive.writestr(member, content)
        archive.writestr("reference/big.csv", b"0" * (50 * 2**20))
    data = bytearray(buffer.getvalue())
    info = zipfile.ZipFile(io.BytesIO(bytes(data))).getinfo("reference/big.csv")
    small = (100).to_bytes(4, "little")
    data[info.header_offset + 22 : info.header_offset + 26] = small  # local header
    central = bytes(data).rindex(b"PK\x01\x02")  # the last member's directory entry
    data[central + 24 : central + 28] = small
    return bytes(data)

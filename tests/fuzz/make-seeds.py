#!/usr/bin/env python3
"""Writes the hand-made seed inputs (seed-*) of each fuzzing target into tests/fuzz/corpus/<target>/.

The inputs come from the unit tests' examples, valid and invalid. Run it again after changing a target's input
layout; run.sh adds what AFL++ finds next to them.
"""
import os
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
MASK = bytes([0x37, 0xFA, 0x21, 0x3D])


def write(target, name, data):
    folder = os.path.join(ROOT, target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "seed-" + name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode("utf-8"))


# ---- polling: a POST body ----
for name, body in {
    "text-binary-ping": b"4hello\x1ebAQIDBA==\x1e2",
    "utf8": "4héllo".encode(),
    "pong-message": b"3\x1e4x",
    "connect-event": b'40{"token":"x"}\x1e42["chat","hi"]',
    "close": b"1",
    "noop": b"6",
    "empty-segments": b"\x1e\x1e",
    "bad-base64": b"bAQID",
    "empty-binary": b"b",
    "trailing-separator": b"4hello\x1e",
    "unknown-type": b"7abc",
    "base64-whitespace": b"bAQI DBA==\x1e4ok",
}.items():
    write("polling", name, body)


# ---- polling-v3: an Engine.IO v3 POST body (text, or an application/octet-stream binary payload) ----
for name, body in {
    "text-and-base64": b"6:4hello10:b4AQIDBA==",
    "ping": b"1:2",
    "utf16-lengths": "4:4é𝄞".encode(),
    "binary-payload": b"\x00\x06\xff4hello\x01\x05\xff\x04\x01\x02\x03\x04",
    "length-mismatch": "3:4é𝄞".encode(),
    "no-colon": b"abc",
}.items():
    write("polling-v3", name, body)


# ---- websocket: config byte, arrival count and sizes, then what the client sends ----
def frame(opcode, payload, fin=True, masked=True, rsv=0, length=None):
    n = len(payload) if length is None else length
    head = bytes([(0x80 if fin else 0) | rsv | opcode])
    m = 0x80 if masked else 0
    if n < 126:
        head += bytes([m | n])
    elif n <= 0xFFFF:
        head += bytes([m | 126]) + struct.pack(">H", n)
    else:
        head += bytes([m | 127]) + struct.pack(">Q", n)
    if not masked:
        return head + payload
    return head + MASK + bytes(b ^ MASK[i & 3] for i, b in enumerate(payload))


def ws(config, sizes, *frames):
    return bytes([config, len(sizes)]) + bytes(sizes) + b"".join(frames)


MB = 5  # maxPayload 1,000,000
for name, data in {
    "text": ws(MB, [], frame(1, b"4hello")),
    "ping-text-split": ws(MB, [2, 4], frame(9, b"hi"), frame(1, b"4hello")),
    "fragmented": ws(MB | 8, [1, 1, 1], frame(1, b"4he", fin=False), frame(9, b""), frame(0, b"llo")),
    "close-1000": ws(MB, [], frame(1, b"4bye"), frame(8, struct.pack(">H", 1000) + b"done")),
    "binary-200": ws(MB, [10, 100], frame(2, bytes(range(200)))),
    "streamed-partial": ws(MB, [0xF0], frame(2, bytes(5000), length=100_000)),
    "unmasked": ws(MB, [], frame(1, b"4x", masked=False)),
    "too-large": ws(1, [], frame(1, b"4" + b"x" * 199)),
    "bad-utf8": ws(MB, [], frame(1, b"4\xff\xfe")),
    "reserved-bit": ws(MB, [], frame(1, b"4x", rsv=0x40)),
    "continuation-alone": ws(MB, [], frame(0, b"x")),
    "ping-too-long": ws(MB, [], frame(9, b"p" * 126)),
    "close-bad-code": ws(MB, [], frame(8, struct.pack(">H", 1005))),
    "engineio-close": ws(MB, [], frame(1, b"1"), frame(1, b"4after")),
}.items():
    write("websocket", name, data)


# ---- upgrade: segment size byte, then the request head ----
KEY = "dGhlIHNhbXBsZSBub25jZQ=="
VALID = ("GET /engine.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: localhost:3000\r\nUpgrade: websocket\r\n"
         "Connection: Upgrade\r\nSec-WebSocket-Key: " + KEY + "\r\nSec-WebSocket-Version: 13\r\n\r\n")
MIXED = ("GET /socket.io/ HTTP/1.1\r\nhost: example.test\r\nUPGRADE: WebSocket\r\nconnection: keep-alive, Upgrade\r\n"
         "sec-websocket-key:\t" + KEY + " \r\nSEC-WEBSOCKET-VERSION: 13\r\nX-Custom: one\r\nCookie: a=1\r\nx-custom: two\r\n"
         "Content-Length: 0\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n")
for name, (cut, head) in {
    "valid": (0xFF, VALID),
    "valid-split": (6, VALID),
    "mixed-case": (30, MIXED),
    "post": (0xFF, VALID.replace("GET /", "POST /")),
    "http10": (0xFF, VALID.replace("HTTP/1.1", "HTTP/1.0")),
    "percent-path": (0xFF, VALID.replace("/engine.io/", "/engine%2Eio/")),
    "dot-segment": (0xFF, VALID.replace("/engine.io/", "/a/../engine.io/")),
    "no-key": (0xFF, VALID.replace("Sec-WebSocket-Key: " + KEY + "\r\n", "")),
    "short-key": (0xFF, VALID.replace(KEY, "dGhlIHNhbXBsZQ==")),
    "body": (0xFF, VALID[:-2] + "Content-Length: 5\r\n\r\n"),
    "chunked": (0xFF, VALID[:-2] + "Transfer-Encoding: chunked\r\n\r\n"),
    "folded": (0xFF, VALID[:-2] + "X-A: one\r\n two\r\n\r\n"),
    "two-hosts": (0xFF, VALID[:-2] + "Host: other\r\n\r\n"),
    "with-body-bytes": (3, VALID + "GET / HTTP/1.1\r\n"),
    "incomplete": (0xFF, VALID[:-2]),
}.items():
    write("upgrade", name, bytes([cut]) + head.encode())


# ---- socketio: a text packet ----
for i, packet in enumerate([
    '0', '0{"token":"abc"}', '0/admin,{"token":"x"}', '1', '1/admin,', '2["chat","hi"]', '21["chat","hi"]',
    '2/admin,5["ev",{"a":1}]', '3[1]', '31["ok"]', '4{"message":"nope"}', '4"denied"',
    '51-["upload",{"_placeholder":true,"num":0}]',
    '52-/files,7["two",{"_placeholder":true,"num":0},{"x":{"_placeholder":true,"num":1}}]',
    '61-3[{"_placeholder":true,"num":0}]', '51-["x",{"_placeholder":true,"num":"0"}]',
    '51-["x",{"_placeholder":true,"num":1}]', '5-["x"]', '511-["x"]', '2["connect"]', '2[]', '2', '9',
    '2["a"', '2[' * 70 + '"x"' + ']' * 70, '21234567890123456789["x"]', '2/é,["ns"]', '2[42,"number name"]',
    '510-["many",' + ",".join('{"_placeholder":true,"num":%d}' % n for n in range(10)) + ']',
]):
    write("socketio", "%02d" % i, packet)


# ---- msgpack: what another node publishes ----
def mp(value):
    if value is None:
        return b"\xc0"
    if value is True:
        return b"\xc3"
    if value is False:
        return b"\xc2"
    if isinstance(value, int):
        if 0 <= value < 128:
            return bytes([value])
        if -32 <= value < 0:
            return struct.pack("b", value)
        if 0 <= value < 2**64 and value > 2**63 - 1:
            return b"\xcf" + struct.pack(">Q", value)
        return b"\xd3" + struct.pack(">q", value)
    if isinstance(value, float):
        return b"\xcb" + struct.pack(">d", value)
    if isinstance(value, str):
        raw = value.encode()
        return (bytes([0xA0 | len(raw)]) if len(raw) < 32 else b"\xd9" + bytes([len(raw)])) + raw
    if isinstance(value, bytes):
        return b"\xc4" + bytes([len(value)]) + value
    if isinstance(value, list):
        return bytes([0x90 | len(value)]) + b"".join(mp(v) for v in value)
    if isinstance(value, dict):
        return bytes([0x80 | len(value)]) + b"".join(mp(k) + mp(v) for k, v in value.items())
    raise TypeError(value)


packet = {"type": 2, "data": ["chat", "hi", b"\x01\x02\x03"], "nsp": "/"}
opts = {"rooms": ["r1"], "except": [], "flags": {"volatile": True}}
for name, data in {
    "test-example": bytes([0x93, 0xA2, ord("h"), ord("i"), 0x81, 0xA1, ord("a"), 0x01, 0xC4, 0x01, 0x09]),
    "broadcast": mp(["uid-1", packet, opts]),
    "ack-request": mp({"type": 7, "requestId": "r-1", "packet": packet, "opts": opts}),
    "ack-response": mp({"type": 9, "requestId": "r-1", "packet": [b"\xff", 1.5]}),
    "placeholder-like": mp({"_placeholder": True, "num": 0}) + mp(b"\x07"),
    "placeholder-bad-num": mp([{"_placeholder": True, "num": "x"}, b"\x01"]),
    "numbers": mp([0, -1, -33, 2**40, -2**40, 2**64 - 1, 1.5, -0.0, float("inf"), float("nan")]),
    "int-keys": bytes([0x82, 0x01, 0xA1, ord("a"), 0xCF]) + struct.pack(">Q", 2**64 - 1) + b"\xc0",
    "array-key": bytes([0x81, 0x91, 0x01, 0x02]),
    "ext": b"\xd4\x00\x00" + b"\xc7\x03\x0d\x01\x02\x03",
    "truncated": mp(["uid-1", packet])[:-3],
    "float32": b"\xca" + struct.pack(">f", 3.25),
    "huge-array-header": b"\xdd\xff\xff\xff\xff",
    "bin16": b"\xc5\x00\x03abc",
    "str-invalid-utf8": b"\xa3\xff\xfe\xfd",
    "deep": b"\x91" * 70 + b"\xc0",
}.items():
    write("msgpack", name, data)


# ---- tokens: flags byte, header lines, blank line, query line, auth JSON ----
for name, (flags, text) in {
    "auth-token": (1, '\n\n{"token":"Bearer abc.def.ghi"}'),
    "header": (1, "Authorization: Bearer hdr.tok\n\n\n"),
    "header-basic": (1, "Authorization: Basic dXNlcjpwYXNz\n\ntoken=q\n"),
    "cookie": (1, "Cookie: other=1; access_token=abc%2Edef\n\n\n"),
    "cookie-custom": (3, "Cookie: tessera-at=\"quoted\"\nCookie: access_token=x\n\n\n"),
    "query": (1, "\ntoken=from.query&EIO=4&transport=websocket\n"),
    "query-disabled": (0, "\ntoken=from.query\n"),
    "empty-auth": (1, '\n\n{"token":""}'),
    "auth-not-string": (1, 'Authorization: bearer   spaced  \n\n\n{"token":42}'),
    "bad-json": (1, '\n\ntoken=a&token=b\n{"token":'),
    "all": (3, 'Authorization: Bearer h\nCookie: tessera-at=c\n\ntoken=q\n{"token":" Bearer  a "}'),
}.items():
    write("tokens", name, bytes([flags]) + text.encode())


# ---- msgpack-parser: one message of a socket.io-msgpack-parser client ----
def key(text):
    raw = text.encode()
    return bytes([0xA0 | len(raw)]) + raw


for name, data in {
    "event": bytes([0x83]) + key("type") + b"\x02" + key("data") + bytes([0x92]) + key("a") + b"\x01" + key("nsp") + key("/"),
    "connect-with-options": bytes([0x83]) + key("type") + b"\x00" + key("nsp") + key("/") + key("options") + bytes([0x81]) + key("compress") + b"\xc3",
    "ack-with-binary": bytes([0x84]) + key("type") + b"\x03" + key("data") + bytes([0x91, 0xC4, 0x03, 1, 2, 3]) + key("nsp") + key("/chat") + key("id") + b"\x07",
    "binary-type": bytes([0x82]) + key("type") + b"\x05" + key("nsp") + key("/"),
    "trailing": bytes([0x82]) + key("type") + b"\x01" + key("nsp") + key("/") + b"\x00",
}.items():
    write("msgpack-parser", name, data)

#!/usr/bin/env python3
"""Seed corpora for the fuzz targets, cut from real stores (default: the golden stores of the tests, one of
them with a lost-range frame left by a repair).

Usage: make-corpus.py OUT_DIR [STORE_DIR...]
Writes OUT_DIR/<Target>/seed-* files. Layouts follow FORMAT.md: segment header 64 bytes, frames of
u32 length | u32 crc | kind | codec | u16 | u32 records | u64 base | u32 raw | u32 stored | body | u32 length,
footer 56 bytes. Frames are walked by their length fields only; nothing here validates them.
"""
import os
import struct
import sys
import zlib

out = sys.argv[1]
golden = os.path.join(os.path.dirname(__file__), "..", "Tests", "StrataStorageTests", "Golden")
stores = sys.argv[2:] or [os.path.join(golden, name) for name in ("v1-store", "v2-lost-range-store", "v3-compacted-store")]
SEGMENT_HEADER, FOOTER, FRAME_HEADER = 64, 56, 32


def put(target, name, data):
    os.makedirs(os.path.join(out, target), exist_ok=True)
    with open(os.path.join(out, target, name), "wb") as f:
        f.write(data)


def read(path):
    with open(path, "rb") as f:
        return f.read()


for number, store in enumerate(stores):
    tag = f"s{number}-"
    segments = sorted(n for n in os.listdir(store) if n.endswith(".segment"))
    checkpoint = read(os.path.join(store, "CHECKPOINT")) if os.path.exists(os.path.join(store, "CHECKPOINT")) else b""
    for i, name in enumerate(segments):
        data = read(os.path.join(store, name))
        put("FuzzSegmentFiles", f"{tag}header-{i}", b"\x00" + data[:SEGMENT_HEADER])
        put("FuzzSegmentFiles", f"{tag}footer-{i}", b"\x01" + data[-FOOTER:])
        (data_end, table_bytes) = struct.unpack_from("<QI", data, len(data) - FOOTER + 40) if len(data) >= SEGMENT_HEADER + FOOTER else (0, 0)
        if table_bytes and data_end + table_bytes + FOOTER == len(data):
            put("FuzzSegmentFiles", f"{tag}frame-table-{i}", b"\x04" + data[data_end:data_end + table_bytes])
        put("FuzzStore", f"{tag}segment-{i}", struct.pack("<H", 0) + data)
        put("FuzzStore", f"{tag}segment-{i}-checkpoint", struct.pack("<H", len(checkpoint)) + checkpoint + data)
        offset = SEGMENT_HEADER
        frame_number = 0
        while offset + FRAME_HEADER <= len(data):
            (length,) = struct.unpack_from("<I", data, offset)
            if length < FRAME_HEADER + 4 or offset + length > len(data):
                break
            frame = data[offset:offset + length]
            put("FuzzFrame", f"{tag}frame-{i}-{frame_number}", frame)
            codec, records, stored = frame[9], struct.unpack_from("<I", frame, 12)[0], struct.unpack_from("<I", frame, 28)[0]
            body = frame[FRAME_HEADER:FRAME_HEADER + stored]
            if codec == 2:
                body = zlib.decompress(body)
            if frame[8] == 1 and codec in (0, 2) and 1 <= records <= 64:
                put("FuzzRecord", f"{tag}body-{i}-{frame_number}", bytes([records - 1]) + body)
            offset += length
            frame_number += 1
    for i in range(min(1, len(segments) - 1)):  # the first two: a store must start at sequence 1
        first, second = read(os.path.join(store, segments[i])), read(os.path.join(store, segments[i + 1]))
        put("FuzzRepair", f"{tag}pair-{i}", struct.pack("<HI", len(checkpoint), len(first)) + checkpoint + first + second)
        damaged = bytearray(first)
        damaged[len(damaged) // 2] ^= 0x10
        put("FuzzRepair", f"{tag}pair-{i}-flipped", struct.pack("<HI", len(checkpoint), len(first)) + checkpoint + damaged + second)
    if checkpoint:
        put("FuzzSegmentFiles", tag + "checkpoint", b"\x02" + checkpoint)
    index = os.path.join(store, "index")
    if os.path.isdir(index):
        for name in sorted(os.listdir(index)):
            data = read(os.path.join(index, name))
            if name.endswith(".idx"):
                put("FuzzIndexRun", tag + name, data)
            elif name.endswith(".hds"):
                put("FuzzStreamHeads", tag + name, data)
            elif name == "MANIFEST":
                put("FuzzSegmentFiles", tag + "manifest", b"\x03" + data)
# Snapshot files: the golden one, whole.
snapshots = os.path.join(golden, "v1-snapshot-store", "snapshots")
for name in sorted(os.listdir(snapshots)) if os.path.isdir(snapshots) else []:
    put("FuzzSnapshotFile", name, read(os.path.join(snapshots, name)))
# JSONL import lines: what `strata dump` writes, and the shapes people write by hand.
lines = [
    '{"sequence":1,"tenant":"acme","group":"Cart","id":"c-1","version":1,"type":"ItemAdded","typeVersion":1,'
    '"timestamp":"2026-11-28T13:40:52.123456Z","eventId":"5cb9462d-540c-4c51-8859-ce95e125d48f",'
    '"metadata":{"correlationId":"9902ec07-d943-455b-a4e9-021926a359ac","causationId":"x","user":"alice"},'
    '"payload":{"item":"tea","quantity":2,"price":1.5e2,"tags":["a","\\u00e9"],"gift":null}}',
    '{"tenant":"t","group":"g","id":"i","type":"T","payloadBase64":"AAEC/w=="}',
    '{"tenant":"t","group":"g","id":"i","type":"T","payload":"x","timestamp":"+292277-01-01T00:00:00.5+01:00"}',
    '{"tenant":"t","group":"g","id":"i","version":7,"type":"T","payload":[1,-2.5e-3,true,false,{}]}',
]
for i, line in enumerate(lines):
    put("FuzzImportLine", f"line-{i}", line.encode())
# Event payloads (BinaryEventCodec and JSON): a few hand-made ones; the fuzzer finds the shapes from the code.
payloads = [
    bytes([0xB1, 0, 0, 0, 0]),                                   # an empty keyed container
    bytes([0xB1, 1, 0, 0, 0, 1, ord("a"), 1, 1, 4]),             # {"a": 2}
    bytes([0xB1, 2, 0, 0, 0, 0, 1, 5]),                          # [nil, some(5)]
    bytes([0xB1, 1, 3]) + b"tea",                                # Optional("tea")
    b'{"name":"tea","count":2,"small":-3,"flag":true,"ratio":1.5e2,"note":null,"tags":["a","\\u00e9"],'
    b'"scores":{"x":7},"nested":{"a":1},"items":[null,{"a":2,"b":"c"}],"shape":{"rect":{"w":3,"h":4}}}',
    b'[null,{"a":-0,"b":"\\ud83d\\ude00"}]',
    b'{"k":{"circle":{"radius":2.5e-3}},"e":{"empty":{}}}',
]
for i, payload in enumerate(payloads):
    put("FuzzEventPayload", f"payload-{i}", payload)
for target in sorted(os.listdir(out)):
    print(f"{target}: {len(os.listdir(os.path.join(out, target)))} seeds")

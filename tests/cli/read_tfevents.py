#!/usr/bin/env python3
"""Reads a run's TensorBoard event files and checks them against the run's metrics.csv.

Independent of xp's C++ code on purpose: its own CRC-32C and protobuf wire-format parsing (standard
library only), so an encoding mistake in xp cannot be mirrored here. Field numbers are those of
tensorflow/core/util/event.proto, tensorflow/core/framework/summary.proto and the hparams plugin's
plugin_data.proto / api.proto.

  read_tfevents.py RUN_DIR [--every N] [--images N] [--hparam KEY=VALUE ...]

Exits 1 with a message on the first mismatch; prints what it found otherwise.
"""
import argparse
import csv
import glob
import math
import os
import struct
import sys
import zlib


def fail(message):
    print("read_tfevents: " + message, file=sys.stderr)
    sys.exit(1)


# --- CRC-32C (Castagnoli), bit by bit from the polynomial: no table shared with anything ---------
def _crc_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _crc_table()


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc = _TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked(crc):
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283
assert crc32c(bytes(32)) == 0x8A9136AA


# --- TFRecord framing ----------------------------------------------------------------------------
def records(path):
    data = open(path, "rb").read()
    pos = 0
    while pos < len(data):
        if pos + 12 > len(data):
            fail("%s: truncated record header at byte %d" % (path, pos))
        header = data[pos:pos + 8]
        (length,) = struct.unpack("<Q", header)
        (length_crc,) = struct.unpack("<I", data[pos + 8:pos + 12])
        if length_crc != masked(crc32c(header)):
            fail("%s: bad length CRC at byte %d" % (path, pos))
        end = pos + 12 + length
        if end + 4 > len(data):
            fail("%s: truncated record at byte %d" % (path, pos))
        payload = data[pos + 12:end]
        (data_crc,) = struct.unpack("<I", data[end:end + 4])
        if data_crc != masked(crc32c(payload)):
            fail("%s: bad data CRC at byte %d" % (path, pos))
        yield payload
        pos = end + 4


# --- protobuf wire format ------------------------------------------------------------------------
def varint(buf, pos):
    value, shift = 0, 0
    while True:
        if pos >= len(buf):
            fail("truncated varint")
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, pos
        shift += 7


def fields(buf):
    """[(field number, wire type, value)]: an int for varints, bytes for everything else."""
    out, pos = [], 0
    while pos < len(buf):
        key, pos = varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos:pos + 8], pos + 8
        elif wire == 5:
            value, pos = buf[pos:pos + 4], pos + 4
        elif wire == 2:
            n, pos = varint(buf, pos)
            value, pos = buf[pos:pos + n], pos + n
        else:
            fail("unexpected wire type %d" % wire)
        if pos > len(buf):
            fail("field %d runs past its message" % number)
        out.append((number, wire, value))
    return out


def one(fs, number, wire=None):
    found = [v for (n, w, v) in fs if n == number and (wire is None or w == wire)]
    return found[-1] if found else None


def double(b):
    return struct.unpack("<d", b)[0]


def float32(b):
    return struct.unpack("<f", b)[0]


def as_float32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def proto_value(buf):
    """google.protobuf.Value -> Python value."""
    f = fields(buf)
    for number, wire, v in f:
        if number == 2 and wire == 1:
            return double(v)
        if number == 3 and wire == 2:
            return v.decode()
        if number == 4 and wire == 0:
            return bool(v)
    return None


# --- events ----------------------------------------------------------------------------------------
def read_events(path):
    events = []
    for i, rec in enumerate(records(path)):
        f = fields(rec)
        wall = one(f, 1, 1)
        event = {"wall_time": double(wall) if wall else 0.0, "step": one(f, 2, 0) or 0, "values": []}
        version = one(f, 3, 2)
        if i == 0:
            if version != b"brain.Event:2":
                fail("%s: first record is not file_version brain.Event:2 (%r)" % (path, version))
            continue
        summary = one(f, 5, 2)
        if summary is None:
            fail("%s: record %d is neither file_version nor summary" % (path, i))
        for number, wire, value in fields(summary):
            if number != 1:
                continue
            vf = fields(value)
            entry = {"tag": one(vf, 1, 2).decode()}
            simple = one(vf, 2, 5)
            if simple is not None:
                entry["simple_value"] = float32(simple)
            image = one(vf, 4, 2)
            if image is not None:
                imf = fields(image)
                entry["image"] = {"height": one(imf, 1, 0) or 0, "width": one(imf, 2, 0) or 0,
                                  "colorspace": one(imf, 3, 0) or 0, "png": one(imf, 4, 2) or b""}
            metadata = one(vf, 9, 2)
            if metadata is not None:
                plugin = fields(one(fields(metadata), 1, 2) or b"")
                entry["plugin_name"] = (one(plugin, 1, 2) or b"").decode()
                entry["plugin_content"] = one(plugin, 2, 2) or b""
            event["values"].append(entry)
        events.append(event)
    return events


def check_png(tag, image):
    png = image["png"]
    if png[:8] != b"\x89PNG\r\n\x1a\n":
        fail("%s: not a PNG" % tag)
    (chunk_len,) = struct.unpack(">I", png[8:12])
    if png[12:16] != b"IHDR" or chunk_len != 13:
        fail("%s: PNG without IHDR first" % tag)
    width, height, depth, colour = struct.unpack(">IIBB", png[16:26])
    if (crc := zlib.crc32(png[12:29])) != struct.unpack(">I", png[29:33])[0]:
        fail("%s: IHDR CRC %08x does not match" % (tag, crc))
    if (width, height) != (image["width"], image["height"]):
        fail("%s: PNG is %dx%d, the Image message says %dx%d" % (tag, width, height, image["width"], image["height"]))
    # PNG colour type 0 = grey, 2 = RGB; TensorBoard colorspace 1 = grey, 3 = RGB.
    expected = {1: 0, 3: 2}.get(image["colorspace"])
    if expected is None or colour != expected or depth != 8:
        fail("%s: colorspace %d but PNG colour type %d, depth %d" % (tag, image["colorspace"], colour, depth))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("run_dir")
    ap.add_argument("--every", type=int, default=10, help="train.tensorboard.log_every_n_steps")
    ap.add_argument("--images", type=int, default=8, help="sample images expected")
    ap.add_argument("--hparam", action="append", default=[], help="KEY=VALUE expected in the session start info")
    args = ap.parse_args()

    files = sorted(glob.glob(os.path.join(args.run_dir, "tensorboard", "events.out.tfevents.*")))
    if not files:
        fail("no events.out.tfevents.* in %s/tensorboard" % args.run_dir)
    events = [e for path in files for e in read_events(path)]

    scalars = {}  # tag -> {step: value}
    images, start_info, end_info = {}, None, None
    for e in events:
        for v in e["values"]:
            if "simple_value" in v:
                scalars.setdefault(v["tag"], {})[e["step"]] = v["simple_value"]
            if "image" in v:
                images[v["tag"]] = v["image"]
            if v.get("plugin_name") == "hparams":
                data = fields(v["plugin_content"])
                if v["tag"] == "_hparams_/session_start_info":
                    start_info = one(data, 3, 2)
                elif v["tag"] == "_hparams_/session_end_info":
                    end_info = one(data, 4, 2)

    # Every value of every metrics.csv row, at the row's step.
    rows = list(csv.DictReader(open(os.path.join(args.run_dir, "metrics.csv"))))
    if not rows:
        fail("metrics.csv has no rows")
    checked = 0
    for row in rows:
        step = int(float(row["step"]))
        for column, text in row.items():
            if column in ("epoch", "step") or text == "":
                continue
            tag = "epoch/" + column
            got = scalars.get(tag, {}).get(step)
            if got is None:
                fail("%s at step %d is missing (metrics.csv has %s)" % (tag, step, text))
            want = as_float32(float(text))
            if not (got == want or math.isclose(got, want, rel_tol=2e-7, abs_tol=1e-30)):
                fail("%s at step %d: events %r, metrics.csv %r" % (tag, step, got, float(text)))
            checked += 1

    last_step = int(float(rows[-1]["step"]))
    for tag in ("step/lr", "step/train_loss"):
        steps = sorted(scalars.get(tag, {}))
        expected = list(range(args.every, last_step + 1, args.every))
        if steps != expected:
            fail("%s logged at steps %s, expected %s" % (tag, steps, expected))
        bad = [x for x in scalars[tag].values() if not (math.isfinite(x) and x > 0)]
        if bad:
            fail("%s has non-positive or non-finite values %s" % (tag, bad))

    summary = {t[len("summary/"):]: s for t, s in scalars.items() if t.startswith("summary/")}
    if summary.get("steps", {}).get(last_step) != last_step:
        fail("summary/steps is not %d at the last step: %r" % (last_step, summary.get("steps")))
    for name in ("test_loss", "test_top1"):
        if name not in summary:
            fail("summary/%s missing (summary tags: %s)" % (name, sorted(summary)))

    if start_info is None:
        fail("no _hparams_/session_start_info")
    hparams = {}
    for number, wire, entry in fields(start_info):
        if number == 1:
            ef = fields(entry)
            hparams[one(ef, 1, 2).decode()] = proto_value(one(ef, 2, 2))
    for spec in args.hparam:
        key, _, text = spec.partition("=")
        try:
            want = float(text)
        except ValueError:
            want = {"true": True, "false": False}.get(text, text)
        if key not in hparams or hparams[key] != want:
            fail("hparam %s: expected %r, found %r" % (key, want, hparams.get(key, "(missing)")))
    if end_info is None or one(fields(end_info), 1, 0) != 1:
        fail("no _hparams_/session_end_info with status SUCCESS")

    if len(images) != args.images:
        fail("%d images, expected %d: %s" % (len(images), args.images, sorted(images)))
    for tag, image in images.items():
        check_png(tag, image)

    first = next(iter(images.values()), {"width": 0, "height": 0, "colorspace": 0})
    finals = ", ".join("%s=%.4g" % (k, v[last_step]) for k, v in sorted(summary.items()) if last_step in v)
    print("%d file(s), %d events; %d epoch values match metrics.csv; step/lr and step/train_loss at %d steps; "
          "%d hparams; %d images (%dx%d, colorspace %d); summary: %s" % (
              len(files), len(events), checked, len(scalars["step/lr"]), len(hparams), len(images),
              first["width"], first["height"], first["colorspace"], finals))

if __name__ == "__main__":
    main()

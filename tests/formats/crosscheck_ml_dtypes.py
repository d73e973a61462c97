#!/usr/bin/env python3
"""Cross-check of lowbit's scalar engine against ml_dtypes 0.6 (and numpy's float16), bit for bit.

For every format lowbit shares with ml_dtypes:
  (a) decode: every code to float32, compared bit for bit. NaN codes must decode to the canonical quiet
      NaN with the code's sign (0x7fc00000 / 0xffc00000) on both sides, except where ml_dtypes / numpy
      widen by shifting (bfloat16, float16): those keep the NaN payload, so NaN compares by class+sign;
  (b) encode: at least 10^6 float32 inputs per format (every special value, the fp32 numbers at and
      around every value and every midpoint of the format, and weighted random inputs), rounded with
      nearest-even and Policy::ieee, compared bit for bit with astype. Integers: ml_dtypes truncates
      toward zero and wraps, so they are compared with toward-zero on inputs within int32's range. numpy's
      float16 keeps NaN payloads, so its NaN results compare by class+sign.
Inputs listed in KNOWN_DIFFERENCES are compared with the code documented for each side instead.

lowbit's side is tests/tools/raw_convert.cpp (the runtime registry: find_format + Format::unpack/pack),
given raw little-endian arrays. Prints a table of formats and mismatches (the first few with input bits,
expected and got) and exits 1 on any mismatch, 2 on a usage or setup error.
"""

import argparse
import os
import subprocess
import sys
import tempfile

import ml_dtypes
import numpy as np

# name, numpy dtype, bits, kind ("float" / "int"), where ml_dtypes / numpy keep NaN payloads (widening
# to float32 by a shift keeps them; narrowing from float32 canonicalizes them, except in numpy's float16)
FORMATS = [
    ("bfloat16", ml_dtypes.bfloat16, 16, "float", {"decode"}),
    ("float8_e4m3fn", ml_dtypes.float8_e4m3fn, 8, "float", set()),
    ("float8_e4m3", ml_dtypes.float8_e4m3, 8, "float", set()),
    ("float8_e4m3fnuz", ml_dtypes.float8_e4m3fnuz, 8, "float", set()),
    ("float8_e4m3b11fnuz", ml_dtypes.float8_e4m3b11fnuz, 8, "float", set()),
    ("float8_e5m2", ml_dtypes.float8_e5m2, 8, "float", set()),
    ("float8_e5m2fnuz", ml_dtypes.float8_e5m2fnuz, 8, "float", set()),
    ("float8_e3m4", ml_dtypes.float8_e3m4, 8, "float", set()),
    ("float6_e2m3fn", ml_dtypes.float6_e2m3fn, 6, "float", set()),
    ("float6_e3m2fn", ml_dtypes.float6_e3m2fn, 6, "float", set()),
    ("float4_e2m1fn", ml_dtypes.float4_e2m1fn, 4, "float", set()),
    ("float8_e8m0fnu", ml_dtypes.float8_e8m0fnu, 8, "float", set()),
    ("int2", ml_dtypes.int2, 2, "int", set()),
    ("int4", ml_dtypes.int4, 4, "int", set()),
    ("uint2", ml_dtypes.uint2, 2, "int", set()),
    ("uint4", ml_dtypes.uint4, 4, "int", set()),
    ("float16", np.float16, 16, "float", {"decode", "encode"}),  # numpy's own float16
]

# Inputs where ml_dtypes 0.6 and lowbit differ on purpose or pending a decision, compared here as
# documented: each side must give exactly the code written down, so a change on either side shows up.
# (format, first and last float32 bit pattern, ml_dtypes' code, lowbit's code, why)
KNOWN_DIFFERENCES = [
    ("float8_e8m0fnu", 0x00400001, 0x005FFFFF, 0x01, 0x00,
     "fp32 subnormals in (2^-127, 1.5*2^-127): ml_dtypes rounds them up to 2^-126; the nearest e8m0 value, "
     "which lowbit gives, is 2^-127 (the midpoint 1.5*2^-127 rounds up in both)"),
]

MIN_ENCODE_INPUTS = 1_000_000
SHOWN_MISMATCHES = 5
CANONICAL_NAN = np.uint32(0x7FC00000)
SIGN32 = np.uint32(0x80000000)


def code_dtype(bits):
    return np.uint8 if bits <= 8 else np.uint16


def run_driver(driver, args):
    result = subprocess.run([driver, *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{driver} {' '.join(args)} failed ({result.returncode}): {result.stderr.strip()}")


def lowbit_decode(driver, tmp, name, codes):
    src, dst = os.path.join(tmp, "codes.bin"), os.path.join(tmp, "decoded.bin")
    codes.tofile(src)
    run_driver(driver, ["decode", name, src, dst])
    return np.fromfile(dst, dtype="<u4")


def lowbit_encode(driver, tmp, name, rounding, bits, inputs):
    src, dst = os.path.join(tmp, "inputs.bin"), os.path.join(tmp, "encoded.bin")
    inputs.astype("<f4").tofile(src)
    run_driver(driver, ["encode", name, rounding, "ieee", src, dst])
    return np.fromfile(dst, dtype=code_dtype(bits))


def nan_mask32(bits32):
    return (bits32 & np.uint32(0x7FFFFFFF)) > np.uint32(0x7F800000)


def finite_values(dtype, bits):
    """The format's finite values (float64, sorted, unique; -0 and +0 count once), from ml_dtypes."""
    codes = np.arange(1 << bits, dtype=code_dtype(bits))
    with np.errstate(invalid="ignore"):
        values = codes.view(dtype).astype(np.float64)
    return np.unique(values[np.isfinite(values)])


def neighbours32(points, steps):
    """Each float32 point and the float32 numbers up to `steps` ulps either side of it."""
    out = [points]
    up, down = points.copy(), points.copy()
    for _ in range(steps):
        up = np.nextafter(up, np.float32(np.inf))
        down = np.nextafter(down, np.float32(-np.inf))
        out += [up, down]
    return np.concatenate(out)


def special_inputs():
    patterns = [
        0x00000000, 0x80000000, 0x7F800000, 0xFF800000,  # zeros, infinities
        0x7FC00000, 0xFFC00000, 0x7F800001, 0xFF800001, 0x7FBFFFFF, 0x7FFFFFFF, 0xFFFFFFFF, 0x7FC00001,  # NaNs
        0x7F7FFFFF, 0xFF7FFFFF, 0x00800000, 0x80800000, 0x007FFFFF, 0x00000001, 0x80000001,  # fp32 limits
        0x3F800000, 0xBF800000, 0x3F000000, 0x3FC00000, 0x40000000,
    ]
    return np.array(patterns, dtype=np.uint32).view(np.float32)


def float_inputs(values, rng):
    """Edges around every value and midpoint of the format, and weighted random inputs (float32)."""
    positive = values[values > 0]
    ulp_at_max = positive[-1] - positive[-2]
    above_max = np.array([positive[-1] + ulp_at_max / 2, positive[-1] + ulp_at_max, positive[-1] * 2])
    midpoints = (values[:-1] + values[1:]) / 2  # exact in float64, and in float32 for these formats
    anchors = np.concatenate([values, midpoints, above_max, -above_max, positive / 2, -positive / 2])
    anchors = anchors[np.abs(anchors) <= np.finfo(np.float32).max].astype(np.float32)
    edges = neighbours32(anchors, 3)
    # Random: (1) every fp32 bit pattern equally likely (all classes, NaN payloads); (2) log-uniform
    # magnitudes over the format's range and three binades beyond it, random fraction bits; (3) random
    # midpoints moved by a few fp32 ulps.
    patterns = rng.integers(0, 1 << 32, size=200_000, dtype=np.uint64).astype(np.uint32).view(np.float32)
    low = max(int(np.floor(np.log2(positive[0]))) - 3, -149)
    high = min(int(np.floor(np.log2(positive[-1]))) + 3, 127)
    count = max(MIN_ENCODE_INPUTS - edges.size - patterns.size - 200_000, 400_000)
    exponents = rng.integers(low, high + 1, size=count)
    fractions = 1 + rng.integers(0, 1 << 23, size=count) / float(1 << 23)
    signs = np.where(rng.integers(0, 2, size=count) == 1, -1.0, 1.0)
    scaled = (signs * np.ldexp(fractions, exponents)).astype(np.float32)
    picked = midpoints[rng.integers(0, midpoints.size, size=200_000)].astype(np.float32)
    offsets = rng.integers(-8, 9, size=picked.size).astype(np.int32)
    moved = (picked.view(np.int32) + offsets).view(np.float32)  # stays finite: midpoints are far from inf
    return np.concatenate([special_inputs(), edges, patterns, scaled, moved])


def int_inputs(bits, rng):
    """Inputs within int32 range (ml_dtypes' integer cast is only defined there), edges and random."""
    span = 1 << (bits + 2)
    anchors = np.concatenate([np.arange(-span, span + 1), np.arange(-span, span) + 0.5]).astype(np.float32)
    edges = neighbours32(anchors, 3)
    count = MIN_ENCODE_INPUTS - edges.size
    small = (rng.random(count // 2) * 4 * span - 2 * span).astype(np.float32)
    magnitudes = np.ldexp(1 + rng.random(count - count // 2), rng.integers(-30, 31, size=count - count // 2))
    signs = np.where(rng.integers(0, 2, size=magnitudes.size) == 1, -1.0, 1.0)
    large = (signs * magnitudes).astype(np.float32)
    inputs = np.concatenate([np.float32([0.0, -0.0, -(2.0**31), 2.0**31 - 128]), edges, small, large])
    return inputs[(inputs >= -(2.0**31)) & (inputs < 2.0**31)]


def describe(indices, inputs_bits, want, got, width):
    lines = []
    for i in indices[:SHOWN_MISMATCHES]:
        lines.append(f"    input {int(inputs_bits[i]):#0{width[0]}x}  expected {int(want[i]):#0{width[1]}x}"
                     f"  got {int(got[i]):#0{width[1]}x}")
    return lines


def check_decode(driver, tmp, name, dtype, bits, kind, nan_payloads):
    codes = np.arange(1 << bits, dtype=code_dtype(bits))
    want = codes.view(dtype).astype(np.float32).view(np.uint32)
    got = lowbit_decode(driver, tmp, name, codes)
    if kind == "int":
        bad = np.nonzero(want != got)[0]
    else:
        want_nan, got_nan = nan_mask32(want), nan_mask32(got)
        # lowbit's NaNs are always canonical quiet NaNs with a sign.
        non_canonical = got_nan & ((got & ~SIGN32) != CANONICAL_NAN)
        if "decode" in nan_payloads:
            same = np.where(want_nan | got_nan, want_nan & got_nan & ((want & SIGN32) == (got & SIGN32)), want == got)
        else:
            same = want == got
        bad = np.nonzero(~same | non_canonical)[0]
    width = (6 if bits > 8 else 4, 10)
    return codes.size, bad.size, describe(bad, codes, want, got, width)


def check_encode(driver, tmp, name, dtype, bits, kind, nan_payloads, rng):
    if kind == "int":
        inputs = int_inputs(bits, rng)
        rounding = "toward-zero"
    else:
        inputs = float_inputs(finite_values(dtype, bits), rng)
        rounding = "nearest-even"
    known_ranges = [(first, last) for known_name, first, last, *_ in KNOWN_DIFFERENCES if known_name == name]
    for first, last in known_ranges:  # always meet each documented range, at both ends and inside
        extra = np.array([first, (first + last) // 2, last], dtype=np.uint32).view(np.float32)
        inputs = np.concatenate([inputs, extra])
    with np.errstate(all="ignore"):
        want = inputs.astype(dtype).view(code_dtype(bits))
    got = lowbit_encode(driver, tmp, name, rounding, bits, inputs)
    if "encode" in nan_payloads:
        # numpy's float16 keeps NaN payloads (even signaling ones): NaN results compare by class and sign.
        decoded_want = want.view(dtype).astype(np.float32).view(np.uint32)
        decoded_got = got.view(dtype).astype(np.float32).view(np.uint32)
        want_nan, got_nan = nan_mask32(decoded_want), nan_mask32(decoded_got)
        sign = np.uint32(1 << (bits - 1))
        same = np.where(want_nan | got_nan, want_nan & got_nan & ((want & sign) == (got & sign)), want == got)
    else:
        same = want == got
    known = 0
    for known_name, first, last, ml_code, lowbit_code, _ in KNOWN_DIFFERENCES:
        if known_name != name:
            continue
        input_bits = inputs.view(np.uint32)
        inside = (input_bits >= first) & (input_bits <= last)
        same = np.where(inside, (want == ml_code) & (got == lowbit_code), same)
        known += int(np.count_nonzero(inside))
    bad = np.nonzero(~same)[0]
    width = (10, 6 if bits > 8 else 4)
    return inputs.size, rounding, bad.size, known, describe(bad, inputs.view(np.uint32), want, got, width)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--driver", required=True, help="path of the lowbit_raw_convert program")
    parser.add_argument("--seed", type=int, default=20240611, help="seed of the random inputs")
    args = parser.parse_args()
    if not os.access(args.driver, os.X_OK):
        print(f"error: driver {args.driver} is not an executable", file=sys.stderr)
        return 2
    if ml_dtypes.__version__ != "0.6.0":
        print(f"note: ml_dtypes {ml_dtypes.__version__}, the semantics are pinned to 0.6.0")

    rng = np.random.default_rng(args.seed)
    print(f"ml_dtypes {ml_dtypes.__version__}, numpy {np.__version__}, seed {args.seed}")
    header = (f"{'format':<20} {'decoded':>8} {'bad':>5}   {'encoded':>9} {'rounding':<13} {'bad':>5}"
              f" {'known':>7}")
    print(header)
    print("-" * len(header))
    total_bad = 0
    details = []
    with tempfile.TemporaryDirectory(prefix="lowbit_crosscheck_") as tmp:
        for name, dtype, bits, kind, nan_payloads in FORMATS:
            decoded, decode_bad, decode_lines = check_decode(args.driver, tmp, name, dtype, bits, kind,
                                                             nan_payloads)
            encoded, rounding, encode_bad, known, encode_lines = check_encode(args.driver, tmp, name, dtype, bits,
                                                                              kind, nan_payloads, rng)
            label = name if dtype is not np.float16 else "float16 (numpy)"
            print(f"{label:<20} {decoded:>8} {decode_bad:>5}   {encoded:>9} {rounding:<13} {encode_bad:>5}"
                  f" {known:>7}")
            total_bad += decode_bad + encode_bad
            if decode_lines:
                details += [f"{label}: decode code -> float32 bits"] + decode_lines
            if encode_lines:
                details += [f"{label}: encode float32 bits -> code ({rounding}, ieee)"] + encode_lines
    print("\nknown: inputs in a documented difference, each side checked against its documented code:")
    for name, first, last, ml_code, lowbit_code, why in KNOWN_DIFFERENCES:
        print(f"  {name} inputs {first:#010x}..{last:#010x}: ml_dtypes {ml_code:#04x}, lowbit {lowbit_code:#04x}: {why}")
    if details:
        print("\nfirst mismatches (expected: ml_dtypes / numpy, got: lowbit):")
        print("\n".join(details))
    print(f"\n{len(FORMATS)} formats, {total_bad} mismatches")
    return 1 if total_bad else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except RuntimeError as error:  # the driver failed: a setup problem, not a mismatch
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)

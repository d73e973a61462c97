// The number commands of `lowbit` (formats, decode, encode, table, convert), run as a user runs them.
// Expected values are worked out by hand from the format specifications in the comments.
#include <catch2/catch.hpp>
#include <cstring>
#include <nlohmann/json.hpp>

#include "cli_runner.hpp"

using lowbit::test::run_cli;
using nlohmann::json;

namespace {

json run_json(const std::vector<std::string>& args) {
  const auto r = run_cli(args);
  INFO("stderr: " << r.err);
  REQUIRE(r.exit_code == 0);
  return json::parse(r.out);
}

std::string floats_as_bytes(std::initializer_list<float> values) {
  std::string bytes;
  for (float v : values) {
    char b[4];
    std::memcpy(b, &v, 4);
    bytes.append(b, 4);
  }
  return bytes;
}

// The shared check, and the message is the first thing on stderr.
void require_error_first(const lowbit::test::CliResult& r, const std::string& mentions) {
  lowbit::test::require_bad_input(r, mentions);
  CHECK(r.err.rfind("error: ", 0) == 0);
}

}  // namespace

TEST_CASE("formats lists every format with its ml_dtypes name first and its limits", "[cli]") {
  const json j = run_json({"formats", "--json"});
  const auto& formats = j.at("formats");
  auto find = [&](const std::string& name) {
    for (const auto& f : formats)
      if (f.at("name") == name) return f;
    FAIL("no format " << name);
    return json();
  };
  const json e4m3fn = find("float8_e4m3fn");
  // OCP FP8 E4M3: 1.75 * 2^8 = 448; min normal 2^-6; min subnormal 2^-9; epsilon 2^-3; binades -9..8.
  CHECK(e4m3fn.at("bits") == 8);
  CHECK(e4m3fn.at("exponent_bits") == 4);
  CHECK(e4m3fn.at("mantissa_bits") == 3);
  CHECK(e4m3fn.at("bias") == 7);
  CHECK(e4m3fn.at("max_finite") == "448");
  CHECK(e4m3fn.at("min_normal") == "0.015625");
  CHECK(e4m3fn.at("min_subnormal") == "0.001953125");
  CHECK(e4m3fn.at("epsilon") == "0.125");
  CHECK(e4m3fn.at("dynamic_range_binades") == 18);
  CHECK(e4m3fn.at("aliases")[0] == "e4m3fn");
  // bfloat16 max (2 - 2^-7) * 2^127 = 255 * 2^120, exactly (all digits; scientific from 10^21 on).
  CHECK(find("bfloat16").at("max_finite") == "3.3895313892515354759047080037148786688e+38");
  // e8m0: 2^-127 .. 2^127, no subnormals.
  CHECK(find("float8_e8m0fnu").at("min_subnormal").is_null());
  CHECK(find("float4_e2m1fn").at("max_finite") == "6");
  const auto text = run_cli({"formats"});
  CHECK(text.exit_code == 0);
  CHECK_THAT(text.out, Catch::Contains("float6_e3m2fn"));
}

TEST_CASE("decode shows the fields, exact value and neighbours of a code", "[cli]") {
  // 0x7e = 0 1111 110: exponent 15 - 7 = 8, significand 1.75, value 448; the next code 0x7f is NaN.
  const json d = run_json({"decode", "0x7e", "--format", "e4m3fn", "--json"}).at("decode");
  CHECK(d.at("format") == "float8_e4m3fn");
  CHECK(d.at("bits") == "0x7e");
  CHECK(d.at("binary") == "0_1111_110");
  CHECK(d.at("class") == "normal");
  CHECK(d.at("exponent_field") == 15);
  CHECK(d.at("exponent") == 8);
  CHECK(d.at("mantissa_field") == 6);
  CHECK(d.at("significand") == "1.75");
  CHECK(d.at("exact") == "448");
  CHECK(d.at("hexfloat") == "0x1.cp+8");
  CHECK(d.at("ulp") == "32");
  CHECK(d.at("previous").at("bits") == "0x7d");
  CHECK(d.at("previous").at("exact") == "416");
  CHECK(d.at("next").is_null());

  // e5m2 0_11111_00 is +inf; below it the largest finite 1.75 * 2^15 = 57344.
  const json inf = run_json({"decode", "0b0_11111_00", "--format", "e5m2", "--json"}).at("decode");
  CHECK(inf.at("class") == "inf");
  CHECK(inf.at("previous").at("exact") == "57344");
  CHECK(inf.at("next").is_null());

  // fp16 0x0001: smallest subnormal 2^-24 = 5.9604644775390625e-8 exactly.
  const json sub = run_json({"decode", "1", "--format", "fp16", "--json"}).at("decode");
  CHECK(sub.at("class") == "subnormal");
  CHECK(sub.at("exact") == "5.9604644775390625e-8");
  CHECK(sub.at("hexfloat") == "0x1p-24");
  CHECK(sub.at("previous").at("bits") == "0x0000");

  // e8m0 0xff is its NaN; int4 0b1000 is -8 and has no previous value.
  CHECK(run_json({"decode", "255", "--format", "e8m0", "--json"}).at("decode").at("class") == "nan");
  const json i4 = run_json({"decode", "0b1000", "--format", "int4", "--json"}).at("decode");
  CHECK(i4.at("exact") == "-8");
  CHECK(i4.at("previous").is_null());
  CHECK(i4.at("next").at("exact") == "-7");
  // q3.4: 0x18 = 24 / 16 = 1.5
  CHECK(run_json({"decode", "0x18", "--format", "q3.4", "--json"}).at("decode").at("exact") == "1.5");

  const auto text = run_cli({"decode", "0x3c00", "--format", "fp16"});
  CHECK(text.exit_code == 0);
  CHECK_THAT(text.out, Catch::Contains("0_01111_0000000000") && Catch::Contains("exact"));
}

TEST_CASE("decode reads a whole block of a block format as hex bytes, scale first", "[cli]") {
  // MXFP4: scale 0x80 = 2^(128 - 127) = 2; byte 0x21 holds e0 = 0x1 (0.5) in the low nibble, e1 = 0x2 (1).
  const json d = run_json({"decode", "0x80 21", "--format", "MXFP4", "--json"}).at("decode");
  CHECK(d.at("format") == "mxfp4");
  CHECK(d.at("scale") == "2");
  REQUIRE(d.at("elements").size() == 2);
  CHECK(d.at("elements")[0].at("exact") == "1");
  CHECK(d.at("elements")[1].at("exact") == "2");
  // NVFP4: e4m3fn scale 0x38 = 1.0, tensor scale 0.5; 0x7f holds 6 (low) and 6 (high): 6 * 1 * 0.5 = 3.
  const json n =
      run_json({"decode", "38_77", "--format", "nvfp4", "--tensor-scale", "0.5", "--json"}).at("decode");
  CHECK(n.at("elements")[0].at("exact") == "3");
  require_error_first(run_cli({"decode", "0x80 2", "--format", "mxfp4"}), "whole bytes");
  require_error_first(run_cli({"decode", "0x80 2g", "--format", "mxfp4"}), "'g' is not a hex digit");
}

TEST_CASE("encode rounds the exact decimal once and reports error, flags and the bracketing codes", "[cli]") {
  // 0.1 in bf16: 0x3dcd = 0.10009765625 (above), 0x3dcc = 0.099609375 (below); 0.1 is nearer the former.
  const json e = run_json({"encode", "0.1", "--format", "bf16", "--json"}).at("encode");
  CHECK(e.at("bits") == "0x3dcd");
  CHECK(e.at("exact") == "0.10009765625");
  CHECK(e.at("flags") == json::array({"inexact"}));
  // Errors to 6 significant digits, %g style: 0.10009765625 - 0.1 = 9.765625e-5 -> 9.76563e-5 (half away).
  CHECK(e.at("abs_error") == "9.76563e-5");
  CHECK(e.at("rel_error") == "0.000976563");
  CHECK(e.at("below").at("bits") == "0x3dcc");
  CHECK(e.at("below").at("exact") == "0.099609375");
  CHECK(e.at("above").at("bits") == "0x3dcd");
  // toward zero takes the lower neighbour.
  CHECK(run_json({"encode", "0.1", "--format", "bf16", "--round", "toward-zero", "--json"})
            .at("encode")
            .at("bits") == "0x3dcc");
  // 500 > 464 (midpoint of 448 and the NaN code): NaN under ieee, 448 under saturate; both overflow.
  const json nan = run_json({"encode", "500", "--format", "e4m3fn", "--json"}).at("encode");
  CHECK(nan.at("bits") == "0x7f");
  CHECK(nan.at("flags") == json::array({"inexact", "overflow"}));
  const json sat =
      run_json({"encode", "500", "--format", "e4m3fn", "--policy", "saturate", "--json"}).at("encode");
  CHECK(sat.at("bits") == "0x7e");
  // -1e-9 is far below e5m2's smallest subnormal 2^-16: -0 = 0x80, inexact and underflow.
  const json tiny = run_json({"encode", "--format", "e5m2", "--json", "--", "-1e-9"}).at("encode");
  CHECK(tiny.at("bits") == "0x80");
  CHECK(tiny.at("flags") == json::array({"inexact", "underflow"}));
  // 65519.99 < 65520 (midpoint of 65504 and 65536) stays finite in fp16; hex float and fraction inputs.
  CHECK(run_json({"encode", "65519.99", "--format", "fp16", "--json"}).at("encode").at("bits") == "0x7bff");
  CHECK(run_json({"encode", "65520", "--format", "fp16", "--json"}).at("encode").at("bits") == "0x7c00");
  CHECK(run_json({"encode", "0x1.8p3", "--format", "fp32", "--json"}).at("encode").at("exact") == "12");
  // 1/3 in e4m3fn: neighbours 0.3125 (0x2a) and 0.34375 (0x2b); 1/3 - 0.3125 = 1/48 < 0.34375 - 1/3 = 1/96?
  // no: 1/3 = 0.3333..., 0.34375 - 1/3 = 0.0104, 1/3 - 0.3125 = 0.0208: the upper one is nearer.
  CHECK(run_json({"encode", "1/3", "--format", "e4m3fn", "--json"}).at("encode").at("bits") == "0x2b");
  // --all gives one row per listed format.
  const json all = run_json({"encode", "1/3", "--all", "--json"}).at("encode");
  CHECK(all.size() == run_json({"formats", "--json"}).at("formats").size());
}

TEST_CASE("table lists every code of a small format", "[cli]") {
  const json t = run_json({"table", "e2m1", "--json"});
  const auto& rows = t.at("table");
  REQUIRE(rows.size() == 16);
  // E2M1 positive codes: 0, 0.5, 1, 1.5, 2, 3, 4, 6; the negative half mirrors them.
  const char* values[] = {"0", "0.5", "1", "1.5", "2", "3", "4", "6"};
  for (int i = 0; i < 8; ++i) {
    CHECK(rows[i].at("exact") == values[i]);
    std::string negative = "-";
    negative.append(values[i]);
    CHECK(rows[i + 8].at("exact") == negative);
  }
  CHECK(rows[1].at("class") == "subnormal");
  CHECK(rows[8].at("class") == "zero");
  const auto csv = run_cli({"table", "e2m1", "--csv"});
  CHECK(csv.exit_code == 0);
  CHECK(std::count(csv.out.begin(), csv.out.end(), '\n') == 17);
  CHECK_THAT(csv.out, Catch::StartsWith("bits,binary,class,exact,shortest\n0x0,0_00_0,zero,0,0\n"));
}

TEST_CASE("convert streams raw arrays through the bulk path", "[cli]") {
  lowbit::test::TempDir dir;
  const std::string in = dir.file("in.f32"), out = dir.file("out.e4m3fn");
  // 1 -> 0x38 (exponent 7 = bias); 448 -> 0x7e; 500 -> 0x7f (NaN, ieee); -2 -> 0xc0; 2^-9 -> 0x01.
  lowbit::test::write_file(in, floats_as_bytes({1.0f, 448.0f, 500.0f, -2.0f, 0x1p-9f}));
  auto r = run_cli({"convert", "--from", "fp32", "--to", "e4m3fn", "-i", in, "-o", out});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(lowbit::test::read_file(out) == std::string("\x38\x7e\x7f\xc0\x01", 5));
  // saturate: 500 -> 0x7e.
  r = run_cli({"convert", "--from", "fp32", "--to", "e4m3fn", "--policy", "saturate", "-i", in, "-o", out});
  CHECK(lowbit::test::read_file(out) == std::string("\x38\x7e\x7e\xc0\x01", 5));
  // stdin -> stdout, packed fp4: 1 -> 0x2, 6 -> 0x7, -0.5 -> 0x9: bytes 0x72, 0x09.
  const std::string input = floats_as_bytes({1.0f, 6.0f, -0.5f});
  r = run_cli({"convert", "--from", "fp32", "--to", "e2m1", "--packed"}, &input);
  CHECK(r.exit_code == 0);
  CHECK(r.out == std::string("\x72\x09", 2));
  // and back: packed e2m1 -> fp32 gives 4 values (the pad nibble decodes as +0).
  const std::string packed = r.out;
  r = run_cli({"convert", "--from", "e2m1", "--to", "fp32", "--packed"}, &packed);
  CHECK(r.out == floats_as_bytes({1.0f, 6.0f, -0.5f, 0.0f}));
}

TEST_CASE("convert --json summarizes what it wrote, and needs -o because stdout carries the array", "[cli]") {
  lowbit::test::TempDir dir;
  const std::string in = dir.file("in.f32"), out = dir.file("out.fp4");
  lowbit::test::write_file(in, floats_as_bytes({1.0f, 6.0f, -0.5f}));
  const auto r = run_cli({"convert", "--from", "fp32", "--to", "e2m1", "--packed", "--round", "toward-zero",
                          "--policy", "saturate", "-i", in, "-o", out, "--json"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(lowbit::test::read_file(out) == std::string("\x72\x09", 2));
  const auto doc = nlohmann::json::parse(r.out);
  CHECK(doc["from"] == "float32");
  CHECK(doc["to"] == "float4_e2m1fn");
  CHECK(doc["elements"] == 3);
  CHECK(doc["input_bytes"] == 12);
  CHECK(doc["output_bytes"] == 2);
  CHECK(doc["packed"] == true);
  CHECK(doc["round"] == "toward-zero");
  CHECK(doc["policy"] == "saturate");
  CHECK(doc["output"] == out);
  const std::string input = floats_as_bytes({1.0f});
  require_error_first(run_cli({"convert", "--from", "fp32", "--to", "bf16", "--json"}, &input), "-o FILE");
}

TEST_CASE("bad input to the number commands: error on stderr, exit code 2, no output file", "[cli]") {
  require_error_first(run_cli({"decode", "0x7e", "--format", "e4m3fm"}), "did you mean float8_e4m3fn");
  require_error_first(run_cli({"decode", "0x1ff", "--format", "e4m3fn"}),
                      "wider than float8_e4m3fn (8 bits)");
  require_error_first(run_cli({"decode", "0x7g", "--format", "e4m3fn"}), "character 4");
  require_error_first(run_cli({"encode", "1.2.3", "--format", "fp16"}), "character 4");
  require_error_first(run_cli({"encode", "1", "--format", "fp16", "--round", "sideways"}),
                      "unknown rounding mode 'sideways'");
  require_error_first(run_cli({"encode", "1", "--format", "fp16", "--policy", "clamp"}),
                      "unknown policy 'clamp'");
  require_error_first(run_cli({"encode", "1"}), "exactly one of --format");
  // A usage error points at the help of the command being parsed.
  require_error_first(run_cli({"decode", "0x7e"}), "decode --help");
  require_error_first(run_cli({"amp", "policy", "--bogus"}), "amp policy --help");
  require_error_first(run_cli({"table", "fp32"}), "up to 16 bits");
  require_error_first(run_cli({"frobnicate"}), "frobnicate");

  lowbit::test::TempDir dir;
  const std::string in = dir.file("in.f32"), out = dir.file("out.bin");
  lowbit::test::write_file(in, floats_as_bytes({1.0f, 2.0f}) + "xyz");  // 11 bytes: not whole fp32 elements
  require_error_first(run_cli({"convert", "--from", "fp32", "--to", "bf16", "-i", in, "-o", out}),
                      "11 bytes, not a whole number of 4-byte float32 elements");
  CHECK(lowbit::test::list_dir(dir.path()) == std::vector<std::string>{"in.f32"});
  // A partial element at the end of a stream is an error too.
  const std::string partial = floats_as_bytes({1.0f}) + "ab";
  require_error_first(run_cli({"convert", "--from", "fp32", "--to", "bf16"}, &partial),
                      "ended inside an element");
  // Codes wider than a 4-bit format in an unpacked byte stream name the element.
  const std::string wide("\x01\x12", 2);
  require_error_first(run_cli({"convert", "--from", "e2m1", "--to", "fp32"}, &wide), "element");
  require_error_first(
      run_cli({"convert", "--from", "fp32", "--to", "bf16", "--round", "nope", "-i", in, "-o", out}),
      "unknown rounding mode");
  CHECK(lowbit::test::list_dir(dir.path()) == std::vector<std::string>{"in.f32"});
  require_error_first(
      run_cli({"convert", "--from", "fp32", "--to", "bf16", "-i", dir.file("missing"), "-o", out}),
      "missing");
}

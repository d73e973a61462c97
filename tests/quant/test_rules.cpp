// Which scheme each tensor gets: llama.cpp's defaults, --rule overrides (first match wins), the block-size
// fallbacks, named mixes, and clear errors for bad rules and schemes.
#include <catch2/catch.hpp>

#include "lowbit/formats/error.hpp"
#include "lowbit/quant/rules.hpp"

using namespace lowbit::quant;

namespace {

Decision decide(std::string_view name, std::vector<std::int64_t> shape, const std::vector<Rule>& rules = {},
                std::string_view base = "q4_0", bool is_float = true) {
  return decide_scheme(name, shape, is_float, parse_scheme(base), rules);
}

}  // namespace

TEST_CASE("by default 2-D float weights take the scheme and 1-D, scalar and integer tensors are kept",
          "[quant]") {
  CHECK(decide("blk.0.w", {64, 64}).scheme.name() == "q4_0");
  CHECK(decide("conv.w", {8, 4, 3, 32}).scheme.name() == "q4_0");
  CHECK(decide("norm.weight", {64}).scheme.keep);
  CHECK(decide("norm.weight", {64}).reason == "1-D");
  CHECK(decide("step", {}).scheme.keep);
  CHECK(decide("position_ids", {1, 512}, {}, "q4_0", false).scheme.keep);
}

TEST_CASE("rules override the default and the first matching rule wins", "[quant]") {
  const std::vector<Rule> rules = {parse_rule("attn\\.v=q8_0"), parse_rule("attn=q6_K"),
                                   parse_rule("norm=f16")};
  CHECK(decide("layers.0.attn.v.weight", {64, 256}, rules).scheme.name() == "q8_0");
  CHECK(decide("layers.0.attn.v.weight", {64, 256}, rules).reason == "rule 1: attn\\.v");
  CHECK(decide("layers.0.attn.k.weight", {64, 256}, rules).scheme.name() == "q6_K");
  CHECK(decide("final_norm.weight", {64}, rules).scheme.name() == "f16");
  CHECK(decide("mlp.weight", {64, 256}, rules).scheme.name() == "q4_0");
  CHECK(decide("mlp.weight", {64, 256}, {parse_rule("mlp=keep")}).scheme.keep);
  CHECK_THROWS_WITH(decide("ids", {4, 4}, {parse_rule("ids=q8_0")}, "q4_0", false),
                    Catch::Contains("tensor \"ids\": q8_0 applies to float tensors only"));
}

TEST_CASE("rows that are not whole blocks fall back as llama.cpp does", "[quant]") {
  CHECK(decide("w", {4, 96}, {}, "q4_K").scheme.name() == "q5_0");
  CHECK(decide("w", {4, 96}, {}, "q5_K").scheme.name() == "q5_1");
  CHECK(decide("w", {4, 96}, {}, "q6_K").scheme.name() == "q8_0");
  CHECK(decide("w", {4, 40}, {}, "q6_K").scheme.name() == "f16");
  CHECK(decide("w", {4, 40}, {}, "q8_0").scheme.name() == "f16");
  CHECK_THAT(decide("w", {4, 96}, {}, "q4_K").reason, Catch::Contains("fallback from q4_K"));
  CHECK(decide("w", {4, 512}, {}, "q4_K").scheme.name() == "q4_K");
}

TEST_CASE("q4_K_M gives q6_K to the output projection and to use_more_bits layers", "[quant]") {
  const auto mix = parse_mix("Q4_K_M", 16);
  REQUIRE(mix);
  CHECK(mix->base.name() == "q4_K");
  auto scheme_of = [&](std::string_view name) {
    return decide_scheme(name, std::vector<std::int64_t>{256, 256}, true, mix->base, mix->rules)
        .scheme.name();
  };
  CHECK(scheme_of("lm_head.weight") == "q6_K");
  // n = 16: layers 0, 1 (< n/8), 14, 15 (>= 7n/8), and 4, 7, 10, 13 ((i - 2) % 3 == 2) get q6_K.
  CHECK(scheme_of("model.layers.0.self_attn.v_proj.weight") == "q6_K");
  CHECK(scheme_of("model.layers.4.mlp.down_proj.weight") == "q6_K");
  CHECK(scheme_of("model.layers.15.mlp.down_proj.weight") == "q6_K");
  CHECK(scheme_of("model.layers.5.mlp.down_proj.weight") == "q4_K");
  CHECK(scheme_of("model.layers.0.self_attn.q_proj.weight") == "q4_K");
  CHECK_FALSE(parse_mix("q4_K", 16));
}

TEST_CASE("bad rules and schemes are refused with the text that was given", "[quant]") {
  CHECK_THROWS_WITH(parse_rule("noequals"), Catch::Contains("rule 'noequals': expected REGEX=SCHEME"));
  CHECK_THROWS_WITH(parse_rule("a(=q8_0"), Catch::Contains("rule 'a(=q8_0': bad regular expression 'a('"));
  CHECK_THROWS_WITH(parse_rule("attn=q9_0"), Catch::Contains("unknown scheme 'q9_0'"));
  CHECK_THROWS_WITH(parse_scheme("iq2_xxs"), Catch::Contains("schemes: keep, f32"));
}

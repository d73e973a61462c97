// `lowbit amp policy`: prints the effective autocast lists (the defaults, PyTorch's CUDA lists for the ops
// lowbit has, after --amp-policy, --amp-allow and --amp-deny edits) as text or JSON.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <nlohmann/json.hpp>

#include "amp_args.hpp"
#include "cli_common.hpp"

namespace lowbit::cli {
namespace {

struct PolicyArgs {
  AmpArgs amp;
  bool json = false;
};

void run_policy(const PolicyArgs& args) {
  const amp::AutocastPolicy policy = amp::make_policy(args.amp.options(1));
  if (args.json) {
    print_json(nlohmann::json::parse(policy.to_json()));
    return;
  }
  std::vector<std::pair<std::string, std::string>> rows{{"dtype", std::string(dtype_name(policy.dtype()))}};
  for (amp::OpList list : {amp::OpList::allow, amp::OpList::deny, amp::OpList::promote}) {
    rows.emplace_back(std::string(amp::op_list_name(list)),
                      fmt::format("{}", fmt::join(policy.ops(list), " ")));
  }
  rows.emplace_back("other ops", "run in their inputs' widest dtype");
  print_rows(rows);
}

}  // namespace

void add_amp_command(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand("amp", "Mixed precision: inspect the autocast policy");
  cmd->require_subcommand(1);
  auto args = std::make_shared<PolicyArgs>();
  CLI::App* policy = cmd->add_subcommand("policy", "Print the effective allow, deny and promote lists");
  args->amp.add_to(*policy, false);
  policy->add_flag("--json", args->json, "print the lists as JSON");
  policy->footer(
      "Examples:\n"
      "  lowbit amp policy\n"
      "  lowbit amp policy --json --amp fp16 --amp-deny matmul --amp-allow softmax\n"
      "  lowbit amp policy --amp-policy my_lists.json");
  policy->callback([args] { run_policy(*args); });
}

}  // namespace lowbit::cli

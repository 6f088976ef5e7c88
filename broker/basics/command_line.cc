#include "broker/basics/command_line.h"

#include <algorithm>
#include <iostream>
#include <optional>

#include "absl/flags/marshalling.h"
#include "absl/flags/reflection.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace liaison::cli {
namespace {

const FlagSpec* FindFlag(absl::Span<const FlagSpec> flags,
                         absl::string_view name) {
  for (const FlagSpec& f : flags) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

}  // namespace

CommandLine ScanCommandLine(int argc, char** argv,
                            absl::Span<const FlagSpec> flags) {
  CommandLine out;
  bool only_positional = false;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (only_positional || arg.size() < 2 || arg[0] != '-') {
      out.positional.emplace_back(arg);
      continue;
    }
    if (arg == "--") {
      only_positional = true;
      continue;
    }
    if (arg == "-h" || arg == "--help" || arg == "-help") {
      out.help = true;
      continue;
    }
    absl::string_view body = arg;
    if (!absl::ConsumePrefix(&body, "--")) absl::ConsumePrefix(&body, "-");
    const size_t eq = body.find('=');
    absl::string_view name = body.substr(0, eq);
    const FlagSpec* flag = FindFlag(flags, name);
    bool negated = false;
    if (flag == nullptr && absl::ConsumePrefix(&name, "no") &&
        eq == absl::string_view::npos) {
      flag = FindFlag(flags, name);
      if (flag != nullptr && flag->type != FlagType::kBool) flag = nullptr;
      negated = flag != nullptr;
    }
    if (flag == nullptr) {
      if (out.error.empty()) out.error = absl::StrCat("unknown flag ", arg);
      if (out.unknown.empty()) out.unknown = std::string(arg);
      continue;
    }
    std::optional<absl::string_view> value;
    if (eq != absl::string_view::npos) {
      value = body.substr(eq + 1);
    } else if (flag->type == FlagType::kBool) {
      value = negated ? "false" : "true";
    } else {
      if (i + 1 >= argc) {
        if (out.error.empty()) {
          out.error = absl::StrCat("--", flag->name, " needs a value");
        }
        continue;
      }
      value = argv[++i];
    }
    std::string parse_error;
    int int_value;
    double double_value;
    bool bool_value;
    const bool well_formed =
        !value.has_value() ||
        (flag->type == FlagType::kInt &&
         absl::ParseFlag(*value, &int_value, &parse_error)) ||
        (flag->type == FlagType::kDouble &&
         absl::ParseFlag(*value, &double_value, &parse_error)) ||
        (flag->type == FlagType::kBool &&
         absl::ParseFlag(*value, &bool_value, &parse_error)) ||
        flag->type == FlagType::kString;
    if (!well_formed && out.error.empty()) {
      out.error = absl::StrCat("--", flag->name, "=", *value, " is not ",
                               flag->type == FlagType::kInt ? "a whole number"
                               : flag->type == FlagType::kDouble
                                   ? "a number"
                                   : "true or false");
    }
    out.flags.emplace(flag->name);
    std::vector<std::string>& values = out.values[std::string(flag->name)];
    if (value.has_value()) values.emplace_back(*value);
  }
  return out;
}

std::vector<FlagSpec> RegisteredFlags() {
  std::vector<FlagSpec> specs;
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    FlagType type = FlagType::kString;
    if (flag->IsOfType<bool>()) {
      type = FlagType::kBool;
    } else if (flag->IsOfType<int>()) {
      type = FlagType::kInt;
    } else if (flag->IsOfType<double>()) {
      type = FlagType::kDouble;
    }
    specs.push_back({flag->Name(), type});
  }
  return specs;
}

int UsageError(const ToolSpec& tool, absl::string_view message,
               absl::string_view command) {
  std::cerr << tool.name << ": " << message << "\n"
            << "Run `" << tool.name << " help" << (command.empty() ? "" : " ")
            << command << "` for usage.\n";
  return 2;
}

Dispatch DispatchCommand(int argc, char** argv, const ToolSpec& tool) {
  Dispatch out;
  out.line = ScanCommandLine(argc, argv, tool.flags);
  const CommandLine& cl = out.line;
  auto find = [&tool](absl::string_view name) -> const CommandSpec* {
    for (const CommandSpec& c : tool.commands) {
      if (c.name == name) return &c;
    }
    return nullptr;
  };
  if (cl.positional.empty()) {
    if (cl.help) {
      std::cout << tool.general_help;
      return out;
    }
    out.exit_code =
        UsageError(tool, cl.error.empty() ? "missing COMMAND" : cl.error);
    return out;
  }
  const std::string& name = cl.positional[0];
  if (name == "help") {
    if (cl.positional.size() > 2) {
      out.exit_code = UsageError(tool, "help takes at most one COMMAND");
      return out;
    }
    if (cl.positional.size() == 1) {
      std::cout << tool.general_help;
      return out;
    }
    const CommandSpec* command = find(cl.positional[1]);
    if (command == nullptr) {
      out.exit_code = UsageError(
          tool, absl::StrCat("unknown command \"", cl.positional[1], "\""));
      return out;
    }
    std::cout << command->help;
    return out;
  }
  const CommandSpec* command = find(name);
  if (command == nullptr) {
    out.exit_code =
        UsageError(tool, absl::StrCat("unknown command \"", name, "\""));
    return out;
  }
  if (cl.help) {
    std::cout << command->help;
    return out;
  }
  if (!cl.error.empty()) {
    out.exit_code = UsageError(tool, cl.error, name);
    return out;
  }
  for (const std::string& flag : cl.flags) {
    if (std::find(command->flags.begin(), command->flags.end(), flag) ==
        command->flags.end()) {
      out.exit_code = UsageError(
          tool, absl::StrCat("--", flag, " does not apply to ", name), name);
      return out;
    }
  }
  out.command = command;
  return out;
}

}  // namespace liaison::cli

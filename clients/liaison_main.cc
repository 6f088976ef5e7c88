// liaison: the command line for agency systems, auditors and administrators.
#include <cstdlib>
#include <iostream>
#include <map>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "clients/client.h"
#include "liaison/v1/identity.grpc.pb.h"

namespace {

std::string EnvOr(const char* name, const char* fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : fallback;
}

}  // namespace

ABSL_FLAG(std::string, broker, EnvOr("LIAISON_BROKER", "127.0.0.1:7443"),
          "Broker address host:port (env LIAISON_BROKER).");
ABSL_FLAG(std::string, cert, EnvOr("LIAISON_CERT", ""),
          "Your certificate, PEM (env LIAISON_CERT).");
ABSL_FLAG(std::string, key, EnvOr("LIAISON_KEY", ""),
          "Your private key, PEM (env LIAISON_KEY).");
ABSL_FLAG(std::string, ca, EnvOr("LIAISON_CA", ""),
          "The deployment CA certificate, PEM (env LIAISON_CA).");
ABSL_FLAG(std::string, server_name, "",
          "Name to check the broker's certificate against (default: the host "
          "in --broker).");
ABSL_FLAG(double, timeout_seconds, 10, "Deadline for each call.");

namespace {

constexpr char kUsage[] = R"(liaison: talk to a Liaison broker over mutual TLS.

Usage: liaison [connection flags] COMMAND [command flags]

Commands:
  whoami    Show who the broker thinks you are.
  help      Show help for a command: liaison help whoami

Connection flags (each also read from the environment):
  --broker=HOST:PORT   broker address (LIAISON_BROKER, default 127.0.0.1:7443)
  --cert=FILE          your certificate (LIAISON_CERT)
  --key=FILE           your private key (LIAISON_KEY)
  --ca=FILE            the deployment CA certificate (LIAISON_CA)
  --server_name=NAME   name on the broker's certificate, if not the host
  --timeout_seconds=N  deadline for each call (default 10)

Exit status: 0 on success, 1 when the broker or a file refused, 2 on a usage
error.
)";

struct Command {
  const char* help;
  int (*run)(const liaison::client::ConnectionOptions&);
};

int Fail(const absl::Status& status) {
  std::cerr << "liaison: " << absl::StatusCodeToString(status.code()) << ": "
            << status.message() << std::endl;
  return 1;
}

std::string Rfc3339(int64_t unix_seconds) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ",
                          absl::FromUnixSeconds(unix_seconds),
                          absl::UTCTimeZone());
}

std::string KindName(liaison::v1::PrincipalKind kind) {
  std::string name = liaison::v1::PrincipalKind_Name(kind);
  name = name.substr(std::string("PRINCIPAL_KIND_").size());
  for (char& c : name) c = static_cast<char>(std::tolower(c));
  return name;
}

int RunWhoAmI(const liaison::client::ConnectionOptions& options) {
  if (absl::Status s = liaison::client::CheckOwnCertificate(options, absl::Now());
      !s.ok()) {
    return Fail(s);
  }
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      liaison::client::OpenChannel(options);
  if (!channel.ok()) return Fail(channel.status());
  auto stub = liaison::v1::Identity::NewStub(*channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::milliseconds(static_cast<int64_t>(
                           absl::GetFlag(FLAGS_timeout_seconds) * 1000)));
  liaison::v1::WhoAmIResponse response;
  grpc::Status status =
      stub->WhoAmI(&context, liaison::v1::WhoAmIRequest(), &response);
  if (!status.ok()) {
    return Fail(liaison::client::FromGrpcStatus(status, options.address));
  }
  const liaison::v1::Principal& p = response.principal();
  std::cout << "principal:    " << p.uri() << "\n"
            << "kind:         " << KindName(p.kind()) << "\n"
            << "id:           " << p.id() << "\n";
  if (!p.sector().empty()) std::cout << "sector:       " << p.sector() << "\n";
  if (!p.display_name().empty()) {
    std::cout << "name:         " << p.display_name() << "\n";
  }
  if (!p.jurisdiction().empty()) {
    std::cout << (p.kind() == liaison::v1::PRINCIPAL_KIND_AUDITOR
                      ? "scope:        "
                      : "jurisdiction: ")
              << p.jurisdiction() << "\n";
  }
  std::cout << "certificate:  serial " << p.certificate_serial()
            << ", valid until " << Rfc3339(p.certificate_not_after().seconds())
            << "\n"
            << "broker:       liaison-broker " << response.broker_version()
            << " at "
            << options.address << std::endl;
  return 0;
}

const std::map<std::string, Command>& Commands() {
  static const auto* commands = new std::map<std::string, Command>{
      {"whoami",
       {R"(liaison whoami: show who the broker thinks you are.

Usage: liaison [connection flags] whoami

Calls Identity.WhoAmI with your certificate and prints the principal the
broker derived from it after checking the CA, the CRL and its registry: kind,
id, sector, registered name, jurisdiction or scope, and the certificate's
serial and expiry. Use it to check a newly installed certificate.

Example:
  liaison --cert=agency-st-olavs.crt --key=agency-st-olavs.key \
          --ca=ca.crt --broker=127.0.0.1:7443 whoami
)",
        RunWhoAmI}},
  };
  return *commands;
}

bool IsHelp(const std::string& arg) {
  return arg == "--help" || arg == "-h" || arg == "help";
}

}  // namespace

int main(int argc, char** argv) {
  // Help is answered before flag parsing so it works with any other flags.
  std::string command;
  bool help = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (IsHelp(arg)) {
      help = true;
    } else if (arg[0] != '-' && command.empty()) {
      command = arg;
    }
  }
  if (help) {
    auto it = Commands().find(command);
    std::cout << (it == Commands().end() ? kUsage : it->second.help);
    return 0;
  }
  std::vector<char*> rest = absl::ParseCommandLine(argc, argv);
  if (rest.size() < 2) {
    std::cerr << kUsage;
    return 2;
  }
  auto it = Commands().find(rest[1]);
  if (it == Commands().end()) {
    std::cerr << "liaison: unknown command \"" << rest[1]
              << "\"; run `liaison help` for the list" << std::endl;
    return 2;
  }
  if (rest.size() > 2) {
    std::cerr << "liaison: unexpected argument \"" << rest[2]
              << "\"; run `liaison help " << rest[1] << "`" << std::endl;
    return 2;
  }
  liaison::client::ConnectionOptions options;
  options.address = absl::GetFlag(FLAGS_broker);
  options.cert_path = absl::GetFlag(FLAGS_cert);
  options.key_path = absl::GetFlag(FLAGS_key);
  options.ca_path = absl::GetFlag(FLAGS_ca);
  options.server_name = absl::GetFlag(FLAGS_server_name);
  for (const auto& [value, name] : {std::pair{&options.cert_path, "--cert"},
                                    std::pair{&options.key_path, "--key"},
                                    std::pair{&options.ca_path, "--ca"}}) {
    if (value->empty()) {
      std::cerr << "liaison: " << name
                << " is required (or set the environment variable); see "
                   "`liaison help`"
                << std::endl;
      return 2;
    }
  }
  return it->second.run(options);
}

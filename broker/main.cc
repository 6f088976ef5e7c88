// liaison-broker: flags and config file in, a running broker out. SIGHUP
// reloads the CRL and the policy set; SIGTERM or SIGINT shuts down
// gracefully.
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "broker/basics/files.h"
#include "broker/broker.h"
#include "broker/config.h"

ABSL_FLAG(std::string, config, "",
          "Broker config file (liaison.v1.BrokerConfig in protobuf text "
          "format). Flags below override its fields.");
ABSL_FLAG(std::string, listen, "",
          "Address to listen on, host:port (default 127.0.0.1:7443; port 0 "
          "picks a free port).");
ABSL_FLAG(std::string, tls_cert, "",
          "The broker's server certificate (PEM); reloaded on SIGHUP.");
ABSL_FLAG(std::string, tls_key, "",
          "The broker's private key (PEM); reloaded on SIGHUP.");
ABSL_FLAG(std::string, ca, "", "The deployment CA certificate (PEM).");
ABSL_FLAG(std::string, crl, "",
          "CRL written by `liaison-certs crl`; reloaded on SIGHUP.");
ABSL_FLAG(std::string, data_dir, "",
          "Folder for the store and the broker's keys (created, mode 0700).");
ABSL_FLAG(std::string, policy_dir, "",
          "Folder of policy files (*.textproto); reloaded on SIGHUP.");
ABSL_FLAG(std::string, registry, "",
          "Registry seed file (liaison.v1.RegistrySeed, text format).");
ABSL_FLAG(uint32_t, max_message_bytes, 0,
          "Largest request accepted, in bytes (default 4194304).");
ABSL_FLAG(std::string, clock_file, "",
          "For tests only: read the broker's current time from this file (one "
          "RFC 3339 time, e.g. 2027-03-01T12:00:00Z, re-read when it "
          "changes) instead of the system clock. Never set in production.");
ABSL_FLAG(double, shutdown_grace_seconds, 10,
          "On SIGTERM, how long calls in flight may take to finish.");

namespace {

constexpr char kUsage[] =
    R"(liaison-broker: the Liaison broker, gRPC over mutual TLS.

Usage: liaison-broker --config=FILE [flags]

Starts the broker on the embedded SQLite store in --data_dir, accepting
callers whose certificates were issued by --ca and are not revoked by --crl,
and whose principals the registry knows. Prints "listening on HOST:PORT" once
it accepts calls and writes the port to DATA_DIR/broker.port.

Signals: SIGHUP reloads the broker's own certificate and key (--tls_cert,
--tls_key), the CRL and the policy set without dropping connections or
streams (only the streams of certificates the new CRL revokes end);
whatever does not check (a key that is not the certificate's, a broken
policy set, an unreadable CRL) is refused and what is in force stays.
Each reload is recorded in the disclosure log. SIGTERM or SIGINT stops
accepting calls, lets calls in flight finish, and exits 0.

Certificates expiring within expiry_warning_days (default 30) are listed in
the output at start and every 24 hours: the CA's, the broker's own, and
those of every principal that has called.

Example:
  liaison-broker --config=deploy/broker.textproto --listen=127.0.0.1:0
)";

void Say(const std::string& line) {
  std::cout << absl::FormatTime("%Y-%m-%dT%H:%M:%SZ ", absl::Now(),
                                absl::UTCTimeZone())
            << line << std::endl;
}

int Fail(const std::string& message) {
  std::cerr << "liaison-broker: " << message << std::endl;
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(kUsage);
  // Abseil as Debian builds it checks every mutex acquisition for lock-order
  // cycles (absl::GraphCycles showed on the commit path); the broker's lock
  // order is fixed by its design and its tests, so the check only costs.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h" || arg == "help") {
      std::cout << kUsage << "\nFlags:\n"
                << "  --config, --listen, --tls_cert, --tls_key, --ca, --crl,\n"
                << "  --data_dir, --policy_dir, --registry, "
                   "--max_message_bytes,\n  --shutdown_grace_seconds "
                   "(see --helpfull for details)\n";
      return 0;
    }
  }
  std::vector<char*> rest = absl::ParseCommandLine(argc, argv);
  if (rest.size() > 1) {
    return Fail(absl::StrCat("unexpected argument \"", rest[1],
                             "\"; see liaison-broker --help"));
  }

  liaison::v1::BrokerConfig config;
  if (const std::string path = absl::GetFlag(FLAGS_config); !path.empty()) {
    absl::StatusOr<liaison::v1::BrokerConfig> loaded =
        liaison::LoadBrokerConfig(path);
    if (!loaded.ok()) return Fail(std::string(loaded.status().message()));
    config = *std::move(loaded);
  }
  auto override_with = [](const std::string& flag, auto setter) {
    if (!flag.empty()) setter(flag);
  };
  override_with(absl::GetFlag(FLAGS_listen),
                [&](const std::string& v) { config.set_listen(v); });
  override_with(absl::GetFlag(FLAGS_tls_cert),
                [&](const std::string& v) { config.set_tls_cert(v); });
  override_with(absl::GetFlag(FLAGS_tls_key),
                [&](const std::string& v) { config.set_tls_key(v); });
  override_with(absl::GetFlag(FLAGS_ca),
                [&](const std::string& v) { config.set_ca(v); });
  override_with(absl::GetFlag(FLAGS_crl),
                [&](const std::string& v) { config.set_crl(v); });
  override_with(absl::GetFlag(FLAGS_data_dir),
                [&](const std::string& v) { config.set_data_dir(v); });
  override_with(absl::GetFlag(FLAGS_policy_dir),
                [&](const std::string& v) { config.set_policy_dir(v); });
  override_with(absl::GetFlag(FLAGS_registry),
                [&](const std::string& v) { config.set_registry(v); });
  if (absl::GetFlag(FLAGS_max_message_bytes) != 0) {
    config.set_max_message_bytes(absl::GetFlag(FLAGS_max_message_bytes));
  }
  if (absl::Status s = liaison::CompleteBrokerConfig(&config); !s.ok()) {
    return Fail(std::string(s.message()));
  }

  // Signals are taken by sigwait on this thread only; block them before any
  // other thread exists so none of gRPC's threads receives them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGHUP);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  Say(absl::StrCat("liaison-broker ", LIAISON_VERSION, " starting"));
  const liaison::Clock* clock = liaison::RealClock();
  std::unique_ptr<liaison::FileClock> file_clock;
  if (!absl::GetFlag(FLAGS_clock_file).empty()) {
    absl::StatusOr<std::unique_ptr<liaison::FileClock>> opened =
        liaison::FileClock::Open(absl::GetFlag(FLAGS_clock_file));
    if (!opened.ok()) return Fail(std::string(opened.status().message()));
    file_clock = *std::move(opened);
    clock = file_clock.get();
    Say(absl::StrCat("time comes from ", absl::GetFlag(FLAGS_clock_file),
                     ", not the system clock (a test setting)"));
  }
  absl::StatusOr<std::unique_ptr<liaison::Broker>> broker =
      liaison::Broker::Start(config, clock, Say);
  if (!broker.ok()) return Fail(std::string(broker.status().message()));

  const std::string host =
      config.listen().substr(0, config.listen().rfind(':'));
  const std::string port = std::to_string((*broker)->port());
  if (absl::Status s = liaison::WriteFileAtomic(
          config.data_dir() + "/broker.port", port + "\n", 0600);
      !s.ok()) {
    return Fail(std::string(s.message()));
  }
  Say(absl::StrCat("listening on ", host, ":", port));
  for (const std::string& line : (*broker)->ExpiryReport()) Say(line);
  absl::Time next_report = absl::Now() + absl::Hours(24);

  for (;;) {
    const absl::Duration until_report = next_report - absl::Now();
    if (until_report <= absl::ZeroDuration()) {
      for (const std::string& line : (*broker)->ExpiryReport()) Say(line);
      next_report = absl::Now() + absl::Hours(24);
      continue;
    }
    const timespec wait = absl::ToTimespec(until_report);
    const int sig = sigtimedwait(&signals, nullptr, &wait);
    if (sig < 0) continue;  // the daily report is due, or EINTR
    if (sig == SIGHUP) {
      absl::StatusOr<std::string> server = (*broker)->ReloadServerCertificate();
      if (server.ok()) {
        Say(*server);
      } else {
        Say(
            absl::StrCat("server certificate reload failed, the one in force "
                         "stays: ",
                         server.status().message()));
      }
      absl::StatusOr<size_t> reloaded = (*broker)->ReloadCrl();
      if (reloaded.ok()) {
        Say(absl::StrCat("CRL reloaded: ", *reloaded, " revoked certificate",
                         *reloaded == 1 ? "" : "s"));
      } else {
        Say(absl::StrCat("CRL reload failed, previous CRL stays in force: ",
                         reloaded.status().message()));
      }
      absl::StatusOr<std::string> policy = (*broker)->ReloadPolicy();
      if (policy.ok()) {
        Say(absl::StrCat("policy reloaded: ", *policy));
      } else {
        Say(absl::StrCat("policy reload refused, the set in force stays:\n",
                         policy.status().message()));
      }
      continue;
    }
    Say(absl::StrCat(sig == SIGTERM ? "SIGTERM" : "SIGINT", ": shutting down"));
    (*broker)->Shutdown(
        absl::Seconds(absl::GetFlag(FLAGS_shutdown_grace_seconds)));
    (*broker)->Wait();
    broker->reset();  // closes the server and the store
    Say("stopped");
    // Everything the broker owns is closed. gRPC's process-wide teardown
    // would now wait for its background threads to wind down (seconds while
    // clients stay connected), which holds up a service manager for nothing.
    std::_Exit(0);
  }
}

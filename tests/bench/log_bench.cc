// liaison-log-bench: what the disclosure log costs as it grows. Appends
// entries through the real SQLite store (group commit, a signed tree head
// per commit) up to each size in turn, and at each size measures the append
// cost and the cost of inclusion and consistency proofs, checking every
// proof it times. A benchmark, not a test: it reports, it does not assert
// speed.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "broker/merkle.h"
#include "broker/sqlite_store.h"
#include "broker/tree_head.h"

ABSL_FLAG(std::string, sizes, "10000,100000,1000000",
          "Log sizes to measure at, ascending, comma-separated.");
ABSL_FLAG(std::string, dir, "",
          "Folder for the database and key (default: a new temporary folder, "
          "removed at the end).");
ABSL_FLAG(int, in_flight, 256, "Appends kept in flight while building.");
ABSL_FLAG(int, proofs, 2000, "Proofs of each kind timed at each size.");

namespace liaison {
namespace {

template <typename T, typename Call>
T Await(Call call) {
  absl::Notification done;
  absl::StatusOr<T> result = absl::UnknownError("no answer");
  call([&](absl::StatusOr<T> r) {
    result = std::move(r);
    done.Notify();
  });
  done.WaitForNotification();
  if (!result.ok()) {
    std::cerr << "liaison-log-bench: " << result.status() << std::endl;
    std::exit(1);
  }
  return *std::move(result);
}

v1::LogEntry Entry(uint64_t i) {
  v1::LogEntry e;
  e.mutable_time()->set_seconds(1790000000 + static_cast<int64_t>(i));
  e.set_kind(v1::ENTRY_KIND_DISCLOSURE);
  e.set_actor("liaison://agency/health/malmo-hospital");
  e.mutable_professional()->set_id("dr-" + std::to_string(i % 97));
  e.mutable_professional()->set_role("paediatrician");
  e.set_counterpart(i % 2 ? "malmo-social" : "malmo-police");
  e.set_subject_pseudonym(std::string(48, 'a') +
                          absl::StrCat(absl::Hex(i, absl::kZeroPad16)));
  e.set_case_id(absl::StrCat("case-", i / 3));
  e.set_message_id(absl::StrCat("ref-", i));
  e.set_record_type("health");
  e.set_level(v1::LEVEL_CATEGORY);
  e.add_fields_disclosed("diagnosis_codes");
  e.add_fields_disclosed("birth_date");
  e.add_fields_withheld("clinician_notes");
  e.set_basis(v1::BASIS_KIND_CONSENT);
  e.set_consent_id("con-0123456789abcdef");
  e.set_agreement_id("health-social-care");
  e.set_policy_version("policy-3f2a9c");
  e.set_payload_digest(std::string(64, 'd'));
  e.set_allowed(true);
  e.set_purpose("child_welfare");
  return e;
}

// Appends entries [from, to) with up to `in_flight` outstanding.
void Build(SqliteStore& store, uint64_t from, uint64_t to, int in_flight) {
  struct InFlight {
    int count = 0;
    int limit = 0;
  } in{0, in_flight};
  absl::Mutex mu;
  int& outstanding = in.count;
  uint64_t next_report = from + (to - from) / 10;
  for (uint64_t i = from; i < to; ++i) {
    {
      absl::MutexLock lock(&mu);
      mu.Await(absl::Condition(
          +[](InFlight* f) { return f->count < f->limit; }, &in));
      ++outstanding;
    }
    store.AppendLog(Entry(i), [&](absl::StatusOr<uint64_t> seq) {
      if (!seq.ok()) {
        std::cerr << "append failed: " << seq.status() << std::endl;
        std::exit(1);
      }
      absl::MutexLock lock(&mu);
      --outstanding;
    });
    if (to - from >= 50000 && i + 1 == next_report) {
      std::cerr << "  " << i + 1 << " entries..." << std::endl;
      next_report += (to - from) / 10;
    }
  }
  absl::MutexLock lock(&mu);
  mu.Await(absl::Condition(
      +[](int* n) { return *n == 0; }, &outstanding));
}

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
}

struct Row {
  uint64_t size;
  double append_us, single_p50_us, single_p99_us, inclusion_us, consistency_us,
      head_us;
  double inclusion_hashes;
};

}  // namespace
}  // namespace liaison

int main(int argc, char** argv) {
  using namespace liaison;  // NOLINT: a benchmark's main
  absl::SetProgramUsageMessage(
      "Measures disclosure-log append and proof costs at growing sizes.\n"
      "Usage: liaison-log-bench [--sizes=10000,100000,1000000] [--dir=DIR]");
  absl::ParseCommandLine(argc, argv);
  std::vector<uint64_t> sizes;
  for (absl::string_view s : absl::StrSplit(absl::GetFlag(FLAGS_sizes), ',')) {
    uint64_t v;
    if (!absl::SimpleAtoi(s, &v) || v < 2 ||
        (!sizes.empty() && v <= sizes.back())) {
      std::cerr << "liaison-log-bench: --sizes must be ascending numbers "
                   "of at least 2"
                << std::endl;
      return 2;
    }
    sizes.push_back(v);
  }
  std::string dir = absl::GetFlag(FLAGS_dir);
  const bool temporary = dir.empty();
  if (temporary) {
    char tmpl[] = "/tmp/liaison-log-bench.XXXXXX";
    if (mkdtemp(tmpl) == nullptr) return 1;
    dir = tmpl;
  }
  absl::StatusOr<LogSigner> signer =
      LogSigner::LoadOrCreate(dir + "/log.key", dir + "/log.pub");
  if (!signer.ok()) {
    std::cerr << signer.status() << std::endl;
    return 1;
  }
  SqliteStoreOptions options;
  options.path = dir + "/bench.db";
  options.signer = &*signer;
  auto store = SqliteStore::Open(options);
  if (!store.ok()) {
    std::cerr << store.status() << std::endl;
    return 1;
  }
  SqliteStore& log = **store;
  const int in_flight = std::max(1, absl::GetFlag(FLAGS_in_flight));
  const int proofs = std::max(1, absl::GetFlag(FLAGS_proofs));
  std::mt19937_64 random(42);
  std::vector<Row> rows;
  uint64_t built = 0;
  for (uint64_t size : sizes) {
    std::cerr << "building the log to " << size << " entries" << std::endl;
    // The window measured is the last 10,000 entries (or all, if fewer).
    const uint64_t window = std::min<uint64_t>(10000, size - built);
    Build(log, built, size - window, in_flight);
    const auto stats_before = log.Stats();
    absl::Time start = absl::Now();
    Build(log, size - window, size, in_flight);
    Row row{};
    row.size = size;
    row.append_us = absl::ToDoubleMicroseconds(absl::Now() - start) /
                    static_cast<double>(window);
    const auto stats_after = log.Stats();
    built = size;

    const v1::TreeHead head =
        Await<v1::TreeHead>([&](auto done) { log.LatestTreeHead(done); });
    if (head.tree_size() != size ||
        !VerifyTreeHead(head, signer->public_key()).ok()) {
      std::cerr << "the head does not cover the log or does not verify"
                << std::endl;
      return 1;
    }
    std::vector<double> lat;
    for (int i = 0; i < proofs; ++i) {
      const uint64_t seq = random() % size;
      absl::Time t = absl::Now();
      v1::InclusionProof p = Await<v1::InclusionProof>(
          [&](auto done) { log.ProveInclusion(seq, size, done); });
      lat.push_back(absl::ToDoubleMicroseconds(absl::Now() - t));
      row.inclusion_hashes += p.hashes_size();
      if (i % 50 == 0) {
        v1::LogEntry e = Entry(seq);
        e.set_sequence(seq);
        std::vector<std::string> h(p.hashes().begin(), p.hashes().end());
        if (!merkle::VerifyInclusion(seq, size,
                                     merkle::LeafHash(e.SerializeAsString()), h,
                                     head.root_hash())
                 .ok()) {
          std::cerr << "inclusion proof for " << seq << " does not verify"
                    << std::endl;
          return 1;
        }
      }
    }
    row.inclusion_us = Percentile(lat, 0.5);
    row.inclusion_hashes /= proofs;
    lat.clear();
    for (int i = 0; i < proofs; ++i) {
      const uint64_t first = 1 + random() % (size - 1);
      absl::Time t = absl::Now();
      Await<v1::ConsistencyProof>(
          [&](auto done) { log.ProveConsistency(first, size, done); });
      lat.push_back(absl::ToDoubleMicroseconds(absl::Now() - t));
    }
    row.consistency_us = Percentile(lat, 0.5);
    lat.clear();
    for (int i = 0; i < 200; ++i) {
      absl::Time t = absl::Now();
      Await<v1::TreeHead>([&](auto done) { log.LatestTreeHead(done); });
      lat.push_back(absl::ToDoubleMicroseconds(absl::Now() - t));
    }
    row.head_us = Percentile(lat, 0.5);
    // One append at a time: the latency an agency sees, an fsync each.
    lat.clear();
    for (int i = 0; i < 100; ++i) {
      absl::Time t = absl::Now();
      Await<uint64_t>(
          [&](auto done) { log.AppendLog(Entry(built + i), done); });
      lat.push_back(absl::ToDoubleMicroseconds(absl::Now() - t));
    }
    built += 100;
    row.single_p50_us = Percentile(lat, 0.5);
    row.single_p99_us = Percentile(lat, 0.99);
    std::cerr << "  " << window << " appends in "
              << stats_after.commits - stats_before.commits << " commits"
              << std::endl;
    rows.push_back(row);
  }

  std::printf("\n%10s %12s %12s %12s %14s %8s %16s %10s\n", "entries",
              "append us", "single p50", "single p99", "inclusion us", "hashes",
              "consistency us", "head us");
  for (const Row& r : rows) {
    std::printf("%10llu %12.1f %12.0f %12.0f %14.1f %8.1f %16.1f %10.1f\n",
                static_cast<unsigned long long>(r.size), r.append_us,
                r.single_p50_us, r.single_p99_us, r.inclusion_us,
                r.inclusion_hashes, r.consistency_us, r.head_us);
  }
  if (rows.size() >= 2) {
    const Row& a = rows.front();
    const Row& b = rows.back();
    std::printf(
        "\nfrom %llu to %llu entries: log2(size) grows x%.2f; inclusion "
        "proofs x%.2f, consistency proofs x%.2f, appends x%.2f\n",
        static_cast<unsigned long long>(a.size),
        static_cast<unsigned long long>(b.size),
        std::log2(static_cast<double>(b.size)) /
            std::log2(static_cast<double>(a.size)),
        b.inclusion_us / a.inclusion_us, b.consistency_us / a.consistency_us,
        b.append_us / a.append_us);
  }
  auto list = [&](auto field) {
    std::vector<std::string> out;
    for (const Row& r : rows) out.push_back(absl::StrCat(field(r)));
    return absl::StrJoin(out, ",");
  };
  std::printf(
      "{\"sizes\":[%s],\"append_us\":[%s],\"single_append_p50_us\":[%s],"
      "\"inclusion_us\":[%s],\"consistency_us\":[%s],"
      "\"inclusion_hashes\":[%s]}\n",
      list([](const Row& r) { return r.size; }).c_str(),
      list([](const Row& r) {
        return std::round(r.append_us * 10) / 10;
      }).c_str(),
      list([](const Row& r) { return std::round(r.single_p50_us); }).c_str(),
      list([](const Row& r) {
        return std::round(r.inclusion_us * 10) / 10;
      }).c_str(),
      list([](const Row& r) {
        return std::round(r.consistency_us * 10) / 10;
      }).c_str(),
      list([](const Row& r) { return r.inclusion_hashes; }).c_str());
  store->reset();
  if (temporary) std::system(("rm -rf '" + dir + "'").c_str());
  return 0;
}

// liaison-log-bench: what the disclosure log costs as it grows.
//
// Grows one log through the real SQLite store (a file on disk, WAL with
// synchronous=FULL, group commit, an Ed25519 tree head signed in every
// commit) to each size in turn and, at each size, times appends (batched
// as concurrent callers would send them, and one at a time), inclusion and
// consistency proofs and the fetch of the latest signed head.
//
// Every proof it times is checked against a Merkle tree the benchmark
// keeps in memory from the entries it appended, and every head against
// that tree and the signing key, so it cannot report the speed of wrong
// answers: a failed check ends it with status 1. It reports; it asserts
// nothing about speed.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "broker/basics/status_macros.h"
#include "broker/domain_rules.h"
#include "broker/log/merkle.h"
#include "broker/log/message_util.h"
#include "broker/log/tree_head.h"
#include "broker/store/sqlite/sqlite_store.h"
#include "liaison/v1/log.pb.h"

ABSL_FLAG(std::string, sizes, "10000,100000,1000000",
          "Log sizes to measure at, comma-separated: at least 2, each more "
          "than 200 above the one before. One log grows through all of "
          "them.");
ABSL_FLAG(std::string, dir, "",
          "Folder for the database and the log signing key; created if "
          "missing and must not already hold a log. Default: a new folder "
          "under the system's temporary directory, removed at the end unless "
          "--keep.");
ABSL_FLAG(bool, keep, false,
          "Keep the temporary folder (database and key) at the end.");
ABSL_FLAG(int, in_flight, 256,
          "Appends kept outstanding while the log grows, as concurrent "
          "callers of the broker would; the commit thread groups those it "
          "finds waiting into one transaction.");
ABSL_FLAG(int, proofs, 2000,
          "Inclusion proofs and consistency proofs timed at each size.");

namespace liaison {
namespace {

// Appends timed at each size: the last of the entries that lead up to it.
constexpr uint64_t kAppendWindow = 10000;
// Appends timed one at a time, with nothing else in flight.
constexpr int kSingleAppends = 200;
// Fetches of the latest tree head timed.
constexpr int kHeadFetches = 200;

struct BenchOptions {
  std::vector<uint64_t> sizes;
  std::string dir;
  bool temporary_dir = false;
  bool keep = false;
  int in_flight = 256;
  int proofs = 2000;
};

// Runs one asynchronous store call and waits for its result.
template <typename T, typename Call>
absl::StatusOr<T> Await(Call call) {
  absl::Notification done;
  absl::StatusOr<T> result = absl::UnknownError("no answer");
  call([&](absl::StatusOr<T> r) {
    result = std::move(r);
    done.Notify();
  });
  done.WaitForNotification();
  return result;
}

// Disclosure entries shaped like those the broker writes for a referral
// (exchange_service.cc): a hospital's referrals to its local partners about
// a population of subjects, so rows and indexes have their real sizes.
class DisclosureSource {
 public:
  explicit DisclosureSource(uint64_t seed) : random_(seed) {}

  v1::LogEntry Next() {
    v1::LogEntry e;
    SetTime(e.mutable_time(), absl::Now());
    e.set_kind(v1::ENTRY_KIND_DISCLOSURE);
    e.set_actor("liaison://agency/health/malmo-hospital");
    e.mutable_professional()->set_id(absl::StrCat("hsn-", Pick(400) + 1000));
    e.mutable_professional()->set_role(
        kRoles[Pick(sizeof kRoles / sizeof kRoles[0])]);
    e.set_counterpart(
        kCounterparts[Pick(sizeof kCounterparts / sizeof kCounterparts[0])]);
    const uint64_t subject = Pick(kSubjects);
    e.set_subject_pseudonym(Sha256Hex(absl::StrCat("subject-", subject)));
    e.set_case_id(absl::StrCat(
        "case-", Sha256Hex(absl::StrCat("case-", subject)).substr(0, 32)));
    e.set_message_id(absl::StrCat("ref-", Hex(32)));
    e.set_record_type("health");
    const uint64_t level = Pick(3);
    e.set_level(static_cast<v1::Level>(v1::LEVEL_SIGNAL + level));
    for (const char* field : {"active_involvement", "contact_point"}) {
      e.add_fields_disclosed(field);
    }
    if (level >= 1) {
      for (const char* field :
           {"subject.birth_date", "address.municipality", "diagnosis_codes",
            "risk_level", "risk_assessed_on"}) {
        e.add_fields_disclosed(field);
      }
    } else {
      e.add_fields_withheld("diagnosis_codes");
    }
    if (level >= 2) {
      e.add_fields_disclosed("summary_for_sharing");
    } else {
      e.add_fields_withheld("summary_for_sharing");
    }
    for (const char* field : {"medications", "contacts", "clinician_notes"}) {
      e.add_fields_withheld(field);
    }
    if (Pick(4) == 0) {
      e.set_basis(v1::BASIS_KIND_STATUTORY_DUTY);
    } else {
      e.set_basis(v1::BASIS_KIND_CONSENT);
      e.set_consent_id(absl::StrCat("con-", Hex(32)));
    }
    e.set_agreement_id("allow-2");
    e.set_policy_version("2026-11-01-3f2a9c41");
    e.set_payload_digest(Hex(64));
    e.set_allowed(true);
    e.set_reason("allowed by allow-2 (health to social care, child welfare)");
    e.set_purpose("child_protection");
    return e;
  }

 private:
  static constexpr uint64_t kSubjects = 50000;
  static constexpr const char* kRoles[] = {"paediatrician", "ward nurse",
                                           "hospital social worker",
                                           "emergency physician"};
  static constexpr const char* kCounterparts[] = {
      "malmo-social", "malmo-police", "rosengard-school", "lund-social"};

  uint64_t Pick(uint64_t n) { return random_() % n; }

  std::string Hex(size_t digits) {
    std::string out;
    while (out.size() < digits) {
      absl::StrAppend(&out, absl::Hex(random_(), absl::kZeroPad16));
    }
    out.resize(digits);
    return out;
  }

  std::mt19937_64 random_;
};

// The log's Merkle tree kept in memory beside the store, built from the
// entries the benchmark appended without the store's code, so the heads
// and proofs the store serves can be checked against it. Holds every
// perfect subtree: about 64 bytes per entry.
class ReferenceTree {
 public:
  void Append(absl::string_view leaf_hash) {
    uint64_t index = size_++;
    AddNode(0, leaf_hash);
    // Each leaf completes one perfect subtree per trailing 1 bit of its
    // index.
    for (int level = 0; index % 2 == 1; ++level, index /= 2) {
      AddNode(level + 1,
              merkle::NodeHash(Node(level, index - 1), Node(level, index)));
    }
  }

  uint64_t size() const { return size_; }
  std::string LeafHash(uint64_t index) const { return Node(0, index); }

  // RFC 9162 MTH of the first `size` leaves (at most size()): the perfect
  // subtrees of size's binary decomposition, hashed right to left.
  std::string Root(uint64_t size) const {
    if (size == 0) return merkle::EmptyRoot();
    std::vector<std::string> parts;
    uint64_t offset = 0;
    for (int level = 63; level >= 0; --level) {
      const uint64_t width = uint64_t{1} << level;
      if ((size & width) == 0) continue;
      parts.push_back(Node(level, offset >> level));
      offset += width;
    }
    std::string root = parts.back();
    for (size_t i = parts.size() - 1; i-- > 0;) {
      root = merkle::NodeHash(parts[i], root);
    }
    return root;
  }

 private:
  static constexpr size_t kHashBytes = 32;

  void AddNode(int level, absl::string_view hash) {
    if (static_cast<size_t>(level) == levels_.size()) levels_.emplace_back();
    levels_[level].append(hash.data(), hash.size());
  }

  std::string Node(int level, uint64_t index) const {
    return levels_[level].substr(index * kHashBytes, kHashBytes);
  }

  uint64_t size_ = 0;
  // levels_[l]: the hashes of the complete subtrees of 2^l leaves, in
  // order, concatenated.
  std::vector<std::string> levels_;
};

// Keeps up to `limit` appends outstanding, as the broker's concurrent
// callers do, so the commit thread finds groups waiting. Completions run
// on the store's thread, so it must not be destroyed until Drain returns.
class AppendPipeline {
 public:
  explicit AppendPipeline(int limit) : limit_(limit) {}

  // Queues `entry`, waiting first while `limit` appends are outstanding.
  // The store must assign it sequence `expected`.
  void Append(Store& store, v1::LogEntry entry, uint64_t expected) {
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(this, &AppendPipeline::HasRoom));
      ++outstanding_;
    }
    store.AppendLog(std::move(entry), [this, expected](
                                          absl::StatusOr<uint64_t> sequence) {
      absl::MutexLock lock(&mu_);
      --outstanding_;
      if (!sequence.ok()) {
        error_.Update(sequence.status());
      } else if (*sequence != expected) {
        error_.Update(absl::InternalError(absl::StrCat(
            "an append got sequence ", *sequence, ", expected ", expected)));
      }
    });
  }

  // Waits until no append is outstanding; the first error any of them got.
  absl::Status Drain() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(this, &AppendPipeline::Idle));
    return error_;
  }

 private:
  bool HasRoom() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return outstanding_ < limit_;
  }
  bool Idle() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return outstanding_ == 0;
  }

  const int limit_;
  absl::Mutex mu_;
  int outstanding_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status error_ ABSL_GUARDED_BY(mu_);
};

// Prints how far the log has grown every tenth of the way to its final
// size.
class Progress {
 public:
  explicit Progress(uint64_t target) : target_(target) {}

  void Reached(uint64_t size) {
    if (size < next_ || size > target_) return;
    const double seconds = absl::ToDoubleSeconds(absl::Now() - start_);
    absl::FPrintF(stderr, "  %9d entries (%3d%%) after %6.1f s\n", size,
                  static_cast<int>(100 * size / target_), seconds);
    next_ = target_ * (100 * size / target_ / 10 + 1) / 10;
  }

 private:
  const uint64_t target_;
  const absl::Time start_ = absl::Now();
  uint64_t next_ = target_ / 10;
};

struct Latency {
  double mean_us = 0;
  double p50_us = 0;
  double p99_us = 0;
};

// Nearest-rank percentiles.
Latency Summarize(std::vector<double> samples_us) {
  Latency l;
  if (samples_us.empty()) return l;
  std::sort(samples_us.begin(), samples_us.end());
  double sum = 0;
  for (double s : samples_us) sum += s;
  l.mean_us = sum / static_cast<double>(samples_us.size());
  auto rank = [&](double p) {
    const size_t i = static_cast<size_t>(
        std::ceil(p * static_cast<double>(samples_us.size())));
    return samples_us[std::clamp<size_t>(i, 1, samples_us.size()) - 1];
  };
  l.p50_us = rank(0.50);
  l.p99_us = rank(0.99);
  return l;
}

// Everything measured at one size.
struct Measurement {
  uint64_t size = 0;
  // Appends with `in_flight` outstanding, over the last kAppendWindow
  // entries before the size was reached.
  uint64_t window = 0;
  double append_us = 0;  // wall time per entry
  double appends_per_s = 0;
  uint64_t commits = 0;
  double commits_per_s = 0;
  // Appends one at a time: each waits for its own commit and fsync.
  Latency single_append;
  Latency inclusion;
  double inclusion_hashes = 0;  // mean proof length
  Latency consistency;
  double consistency_hashes = 0;
  Latency head;
  uint64_t database_bytes = 0;  // file and write-ahead log
};

// The store, its signing key, and the in-memory tree it is checked
// against.
class LogBench {
 public:
  LogBench(const BenchOptions& options, const LogSigner& signer,
           SqliteStore& store)
      : options_(options),
        signer_(signer),
        store_(store),
        pipeline_(options.in_flight),
        progress_(options.sizes.back()) {}

  absl::StatusOr<Measurement> MeasureAt(uint64_t size) {
    Measurement m;
    m.size = size;
    absl::FPrintF(stderr, "growing the log to %d entries\n", size);
    m.window = std::min(kAppendWindow, size - tree_.size());
    RETURN_IF_ERROR(Grow(size - m.window));
    const SqliteStore::CommitStats before = store_.Stats();
    const absl::Time start = absl::Now();
    RETURN_IF_ERROR(Grow(size));
    const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
    const SqliteStore::CommitStats after = store_.Stats();
    m.append_us = seconds * 1e6 / static_cast<double>(m.window);
    m.appends_per_s = static_cast<double>(m.window) / seconds;
    m.commits = after.commits - before.commits;
    m.commits_per_s = static_cast<double>(m.commits) / seconds;

    absl::FPrintF(stderr, "  measuring proofs and heads at %d entries\n", size);
    ASSIGN_OR_RETURN(const v1::TreeHead head, CheckedHead(size));
    RETURN_IF_ERROR(TimeHeads(&m));
    RETURN_IF_ERROR(TimeInclusion(head, &m));
    RETURN_IF_ERROR(TimeConsistency(&m));
    m.database_bytes = DatabaseBytes();
    // Last, as these grow the log past `size`.
    RETURN_IF_ERROR(TimeSingleAppends(&m));
    return m;
  }

 private:
  // Appends entries until the log holds `size`, `in_flight` at a time.
  absl::Status Grow(uint64_t size) {
    while (tree_.size() < size) {
      const uint64_t sequence = tree_.size();
      v1::LogEntry entry = AddToTree(sequence);
      pipeline_.Append(store_, std::move(entry), sequence);
      progress_.Reached(tree_.size());
    }
    return pipeline_.Drain();
  }

  // The next entry, as the store will hold it at `sequence`, added to the
  // reference tree.
  v1::LogEntry AddToTree(uint64_t sequence) {
    v1::LogEntry entry = source_.Next();
    entry.set_sequence(sequence);
    tree_.Append(merkle::LeafHash(entry.SerializeAsString()));
    return entry;
  }

  // The latest head, checked: it covers `size` entries, its root is the
  // reference tree's and its signature verifies under the signer's key.
  absl::StatusOr<v1::TreeHead> CheckedHead(uint64_t size) {
    ASSIGN_OR_RETURN(v1::TreeHead head, Await<v1::TreeHead>([&](auto done) {
                       store_.LatestTreeHead(std::move(done));
                     }));
    if (head.tree_size() != size) {
      return absl::InternalError(absl::StrCat(
          "the latest head covers ", head.tree_size(), " entries, not ", size));
    }
    if (head.root_hash() != tree_.Root(size)) {
      return absl::InternalError(absl::StrCat(
          "the head's root at ", size,
          " entries differs from the root of the entries appended"));
    }
    RETURN_IF_ERROR(VerifyTreeHead(head, signer_.public_key()));
    return head;
  }

  absl::Status TimeHeads(Measurement* m) {
    std::vector<double> us;
    for (int i = 0; i < kHeadFetches; ++i) {
      const absl::Time start = absl::Now();
      ASSIGN_OR_RETURN(v1::TreeHead head, Await<v1::TreeHead>([&](auto done) {
                         store_.LatestTreeHead(std::move(done));
                       }));
      us.push_back(absl::ToDoubleMicroseconds(absl::Now() - start));
      if (head.tree_size() != m->size) {
        return absl::InternalError("the latest head changed while reading");
      }
    }
    m->head = Summarize(std::move(us));
    return absl::OkStatus();
  }

  // Random leaves in the tree of `head`, each proof verified against the
  // head's root with the leaf hash of the entry appended there.
  absl::Status TimeInclusion(const v1::TreeHead& head, Measurement* m) {
    const uint64_t size = head.tree_size();
    std::vector<double> us;
    uint64_t hashes = 0;
    for (int i = 0; i < options_.proofs; ++i) {
      const uint64_t sequence = random_() % size;
      const absl::Time start = absl::Now();
      ASSIGN_OR_RETURN(v1::InclusionProof proof,
                       Await<v1::InclusionProof>([&](auto done) {
                         store_.ProveInclusion(sequence, size, std::move(done));
                       }));
      us.push_back(absl::ToDoubleMicroseconds(absl::Now() - start));
      hashes += proof.hashes_size();
      const std::vector<std::string> path(proof.hashes().begin(),
                                          proof.hashes().end());
      absl::Status verified = merkle::VerifyInclusion(
          sequence, size, tree_.LeafHash(sequence), path, head.root_hash());
      if (!verified.ok()) {
        return absl::InternalError(
            absl::StrCat("inclusion proof of entry ", sequence, " in ", size,
                         " entries: ", verified.message()));
      }
    }
    m->inclusion = Summarize(std::move(us));
    m->inclusion_hashes =
        static_cast<double>(hashes) / static_cast<double>(options_.proofs);
    return absl::OkStatus();
  }

  // Random pairs 0 < first < second <= size, each proof verified against
  // the reference tree's roots at both sizes.
  absl::Status TimeConsistency(Measurement* m) {
    std::vector<double> us;
    uint64_t hashes = 0;
    for (int i = 0; i < options_.proofs; ++i) {
      const uint64_t second = 2 + random_() % (m->size - 1);
      const uint64_t first = 1 + random_() % (second - 1);
      const absl::Time start = absl::Now();
      ASSIGN_OR_RETURN(v1::ConsistencyProof proof,
                       Await<v1::ConsistencyProof>([&](auto done) {
                         store_.ProveConsistency(first, second,
                                                 std::move(done));
                       }));
      us.push_back(absl::ToDoubleMicroseconds(absl::Now() - start));
      hashes += proof.hashes_size();
      const std::vector<std::string> path(proof.hashes().begin(),
                                          proof.hashes().end());
      absl::Status verified = merkle::VerifyConsistency(
          first, second, tree_.Root(first), tree_.Root(second), path);
      if (!verified.ok()) {
        return absl::InternalError(
            absl::StrCat("consistency proof from ", first, " to ", second,
                         " entries: ", verified.message()));
      }
    }
    m->consistency = Summarize(std::move(us));
    m->consistency_hashes =
        static_cast<double>(hashes) / static_cast<double>(options_.proofs);
    return absl::OkStatus();
  }

  absl::Status TimeSingleAppends(Measurement* m) {
    std::vector<double> us;
    for (int i = 0; i < kSingleAppends; ++i) {
      const uint64_t expected = tree_.size();
      v1::LogEntry entry = AddToTree(expected);
      const absl::Time start = absl::Now();
      ASSIGN_OR_RETURN(uint64_t sequence, Await<uint64_t>([&](auto done) {
                         store_.AppendLog(std::move(entry), std::move(done));
                       }));
      us.push_back(absl::ToDoubleMicroseconds(absl::Now() - start));
      if (sequence != expected) {
        return absl::InternalError(absl::StrCat(
            "an append got sequence ", sequence, ", expected ", expected));
      }
    }
    m->single_append = Summarize(std::move(us));
    return absl::OkStatus();
  }

  uint64_t DatabaseBytes() const {
    uint64_t bytes = 0;
    for (const char* suffix : {"", "-wal"}) {
      std::error_code error;
      const auto size = std::filesystem::file_size(
          std::filesystem::path(options_.dir) / absl::StrCat("log.db", suffix),
          error);
      if (!error) bytes += size;
    }
    return bytes;
  }

  const BenchOptions& options_;
  const LogSigner& signer_;
  SqliteStore& store_;
  AppendPipeline pipeline_;
  Progress progress_;
  DisclosureSource source_{1};
  ReferenceTree tree_;
  std::mt19937_64 random_{2};
};

void PrintReport(const BenchOptions& options,
                 const std::vector<Measurement>& rows) {
  absl::PrintF(
      "\nAppends: %d in flight (group commit, one fsync and one signed head "
      "per commit), timed over the last %d entries before each size; then "
      "%d appends one at a time.\n",
      options.in_flight, kAppendWindow, kSingleAppends);
  absl::PrintF("%10s %10s %10s %9s %9s | %11s %11s %11s %9s\n", "entries",
               "us/append", "appends/s", "commits/s", "per commit",
               "single mean", "single p50", "single p99", "db MB");
  for (const Measurement& m : rows) {
    absl::PrintF(
        "%10d %10.1f %10.0f %9.1f %9.1f | %9.0fus %9.0fus %9.0fus %9.1f\n",
        m.size, m.append_us, m.appends_per_s, m.commits_per_s,
        m.commits == 0
            ? 0.0
            : static_cast<double>(m.window) / static_cast<double>(m.commits),
        m.single_append.mean_us, m.single_append.p50_us, m.single_append.p99_us,
        static_cast<double>(m.database_bytes) / (1024.0 * 1024.0));
  }

  absl::PrintF(
      "\nReads: %d inclusion proofs of random entries and %d consistency "
      "proofs between random sizes, each verified; %d head fetches. Times "
      "are a caller's round trip through the store's reader thread, in "
      "microseconds.\n",
      options.proofs, options.proofs, kHeadFetches);
  absl::PrintF("%10s %8s | %8s %8s %8s %7s | %8s %8s %8s %7s | %8s %8s\n",
               "entries", "log2", "incl", "p50", "p99", "hashes", "cons", "p50",
               "p99", "hashes", "head", "p50");
  for (const Measurement& m : rows) {
    absl::PrintF(
        "%10d %8.2f | %8.1f %8.1f %8.1f %7.2f | %8.1f %8.1f %8.1f %7.2f | "
        "%8.1f %8.1f\n",
        m.size, std::log2(static_cast<double>(m.size)), m.inclusion.mean_us,
        m.inclusion.p50_us, m.inclusion.p99_us, m.inclusion_hashes,
        m.consistency.mean_us, m.consistency.p50_us, m.consistency.p99_us,
        m.consistency_hashes, m.head.mean_us, m.head.p50_us);
  }

  if (rows.size() >= 2) {
    const Measurement& a = rows.front();
    const Measurement& b = rows.back();
    const double log_ratio = std::log2(static_cast<double>(b.size)) /
                             std::log2(static_cast<double>(a.size));
    absl::PrintF(
        "\nFrom %d to %d entries (x%.0f): log2(size) grows x%.2f; inclusion "
        "proofs x%.2f in time and x%.2f in hashes; consistency proofs x%.2f "
        "in time and x%.2f in hashes; batched appends x%.2f; single appends "
        "x%.2f.\n",
        a.size, b.size,
        static_cast<double>(b.size) / static_cast<double>(a.size), log_ratio,
        b.inclusion.mean_us / a.inclusion.mean_us,
        b.inclusion_hashes / a.inclusion_hashes,
        b.consistency.mean_us / a.consistency.mean_us,
        b.consistency_hashes / a.consistency_hashes, b.append_us / a.append_us,
        b.single_append.mean_us / a.single_append.mean_us);
  }

  auto list = [&](auto value) {
    return absl::StrJoin(rows, ",",
                         [&](std::string* out, const Measurement& m) {
                           absl::StrAppend(out, value(m));
                         });
  };
  auto fixed = [](double v) { return absl::StrFormat("%.1f", v); };
  absl::PrintF(
      "{\"sizes\":[%s],\"append_us\":[%s],\"appends_per_s\":[%s],"
      "\"commits_per_s\":[%s],\"single_append_mean_us\":[%s],"
      "\"single_append_p50_us\":[%s],\"single_append_p99_us\":[%s],"
      "\"inclusion_us\":[%s],\"inclusion_p99_us\":[%s],"
      "\"inclusion_hashes\":[%s],\"consistency_us\":[%s],"
      "\"consistency_p99_us\":[%s],\"consistency_hashes\":[%s],"
      "\"head_us\":[%s],\"database_bytes\":[%s]}\n",
      list([](const Measurement& m) { return m.size; }),
      list([&](const Measurement& m) { return fixed(m.append_us); }),
      list([&](const Measurement& m) { return fixed(m.appends_per_s); }),
      list([&](const Measurement& m) { return fixed(m.commits_per_s); }),
      list(
          [&](const Measurement& m) { return fixed(m.single_append.mean_us); }),
      list([&](const Measurement& m) { return fixed(m.single_append.p50_us); }),
      list([&](const Measurement& m) { return fixed(m.single_append.p99_us); }),
      list([&](const Measurement& m) { return fixed(m.inclusion.mean_us); }),
      list([&](const Measurement& m) { return fixed(m.inclusion.p99_us); }),
      list([&](const Measurement& m) {
        return absl::StrFormat("%.2f", m.inclusion_hashes);
      }),
      list([&](const Measurement& m) { return fixed(m.consistency.mean_us); }),
      list([&](const Measurement& m) { return fixed(m.consistency.p99_us); }),
      list([&](const Measurement& m) {
        return absl::StrFormat("%.2f", m.consistency_hashes);
      }),
      list([&](const Measurement& m) { return fixed(m.head.mean_us); }),
      list([](const Measurement& m) { return m.database_bytes; }));
}

absl::StatusOr<BenchOptions> OptionsFromFlags() {
  BenchOptions options;
  for (absl::string_view part :
       absl::StrSplit(absl::GetFlag(FLAGS_sizes), ',', absl::SkipEmpty())) {
    // The single appends measured at a size grow the log past it.
    const uint64_t least =
        options.sizes.empty() ? 2 : options.sizes.back() + kSingleAppends + 1;
    uint64_t size = 0;
    if (!absl::SimpleAtoi(part, &size) || size < least) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--sizes: \"", part, "\" is not a size of at least ", least,
          "; give ascending sizes, each more than ", kSingleAppends,
          " above the one before, such as 10000,100000,1000000"));
    }
    options.sizes.push_back(size);
  }
  if (options.sizes.empty()) {
    return absl::InvalidArgumentError("--sizes: give at least one size");
  }
  options.in_flight = absl::GetFlag(FLAGS_in_flight);
  if (options.in_flight < 1) {
    return absl::InvalidArgumentError("--in_flight must be at least 1");
  }
  options.proofs = absl::GetFlag(FLAGS_proofs);
  if (options.proofs < 1) {
    return absl::InvalidArgumentError("--proofs must be at least 1");
  }
  options.dir = absl::GetFlag(FLAGS_dir);
  options.keep = absl::GetFlag(FLAGS_keep);
  return options;
}

// Creates the folder the log lives in: --dir, or a new temporary one.
absl::Status PrepareDir(BenchOptions* options) {
  if (!options->dir.empty()) {
    std::error_code error;
    std::filesystem::create_directories(options->dir, error);
    if (error) {
      return absl::FailedPreconditionError(absl::StrCat(
          "--dir ", options->dir, ": cannot create it: ", error.message()));
    }
    return absl::OkStatus();
  }
  std::error_code error;
  const std::filesystem::path base =
      std::filesystem::temp_directory_path(error);
  if (error) {
    return absl::FailedPreconditionError(absl::StrCat(
        "no temporary directory (", error.message(), "); give --dir"));
  }
  std::string pattern = (base / "liaison-log-bench.XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create a folder in ", base.string(), ": ",
                     std::strerror(errno), "; give --dir"));
  }
  options->dir = pattern;
  options->temporary_dir = true;
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Measurement>> Run(const BenchOptions& options) {
  ASSIGN_OR_RETURN(const LogSigner signer,
                   LogSigner::LoadOrCreate(options.dir + "/log.key",
                                           options.dir + "/log.pub"));
  SqliteStoreOptions store_options;
  store_options.path = options.dir + "/log.db";
  store_options.signer = &signer;
  store_options.rules = &BrokerRules();
  ASSIGN_OR_RETURN(std::unique_ptr<SqliteStore> store,
                   SqliteStore::Open(store_options));
  ASSIGN_OR_RETURN(v1::TreeHead head, Await<v1::TreeHead>([&](auto done) {
                     store->LatestTreeHead(std::move(done));
                   }));
  if (head.tree_size() != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(store_options.path, " already holds a log of ",
                     head.tree_size(), " entries; give an empty --dir"));
  }
  absl::PrintF(
      "liaison-log-bench: %s (SQLite WAL, synchronous=FULL), signing key %s, "
      "sizes %s\n",
      store_options.path, signer.key_id(), absl::StrJoin(options.sizes, ","));
  std::fflush(stdout);  // before the progress lines on stderr

  std::vector<Measurement> rows;
  {
    // Destroyed before the store is closed below, which drains its
    // queue; the pipeline it holds is idle by then.
    LogBench bench(options, signer, *store);
    for (uint64_t size : options.sizes) {
      ASSIGN_OR_RETURN(Measurement m, bench.MeasureAt(size));
      rows.push_back(m);
    }
  }
  store.reset();
  return rows;
}

}  // namespace
}  // namespace liaison

int main(int argc, char** argv) {
  // --help lists this file's flags: by default Abseil lists only those of a
  // file named after the program or ending in "main".
  absl::FlagsUsageConfig usage;
  usage.contains_help_flags = [](absl::string_view file) {
    return absl::EndsWith(file, "log_bench.cc");
  };
  usage.contains_helpshort_flags = usage.contains_help_flags;
  absl::SetFlagsUsageConfig(usage);
  absl::SetProgramUsageMessage(
      "Grows a disclosure log through the real SQLite store and reports, at "
      "each size, the cost of appends (batched and one at a time), inclusion "
      "and consistency proofs and the latest tree head, checking every "
      "proof. Prints tables, then one JSON line.\n"
      "Usage: liaison-log-bench [--sizes=10000,100000,1000000] [--dir=DIR] "
      "[--keep] [--in_flight=256] [--proofs=2000]");
  absl::ParseCommandLine(argc, argv);

  absl::StatusOr<liaison::BenchOptions> options = liaison::OptionsFromFlags();
  if (!options.ok()) {
    absl::FPrintF(stderr, "liaison-log-bench: %s\n",
                  options.status().message());
    return 2;
  }
  if (absl::Status s = liaison::PrepareDir(&*options); !s.ok()) {
    absl::FPrintF(stderr, "liaison-log-bench: %s\n", s.message());
    return 1;
  }
  absl::StatusOr<std::vector<liaison::Measurement>> rows =
      liaison::Run(*options);
  if (!rows.ok()) {
    absl::FPrintF(stderr, "liaison-log-bench: %s\nThe log is kept in %s.\n",
                  rows.status().ToString(), options->dir);
    return 1;
  }
  if (options->temporary_dir && !options->keep) {
    std::error_code error;
    std::filesystem::remove_all(options->dir, error);
    if (error) {
      absl::FPrintF(stderr, "liaison-log-bench: cannot remove %s: %s\n",
                    options->dir, error.message());
    }
  } else {
    absl::FPrintF(stderr, "The log is kept in %s.\n", options->dir);
  }
  liaison::PrintReport(*options, *rows);
  return 0;
}

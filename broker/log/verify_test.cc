#include "broker/basics/files.h"
#include "broker/log/verify.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "broker/log/merkle.h"
#include "broker/log/message_util.h"
#include "broker/log/tree_head.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "liaison/v1/audit.pb.h"

namespace liaison::audit {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr int64_t kFirstSecond = 1790000000;

// The broker's tree, kept in memory: the reference the verifier's own root
// computation is checked against.
class MemoryNodes : public merkle::NodeReader {
 public:
  void Append(const std::string& leaf) {
    absl::StatusOr<std::vector<merkle::StoredNode>> completed =
        merkle::NodesCompletedBy(*this, size_, merkle::LeafHash(leaf));
    ASSERT_TRUE(completed.ok()) << completed.status();
    for (merkle::StoredNode& node : *completed) {
      nodes_[{node.level, node.index}] = std::move(node.hash);
    }
    ++size_;
  }

  absl::StatusOr<std::string> Node(int level, uint64_t index) const override {
    auto it = nodes_.find({level, index});
    if (it == nodes_.end()) return absl::NotFoundError("no such node");
    return it->second;
  }

 private:
  uint64_t size_ = 0;
  std::map<std::pair<int, uint64_t>, std::string> nodes_;
};

v1::LogEntry MakeEntry(uint64_t sequence) {
  v1::LogEntry entry;
  entry.set_sequence(sequence);
  SetTime(entry.mutable_time(),
          absl::FromUnixSeconds(kFirstSecond + static_cast<int64_t>(sequence)));
  entry.set_kind(sequence % 3 == 0 ? v1::ENTRY_KIND_DENIAL
                                   : v1::ENTRY_KIND_DISCLOSURE);
  entry.set_actor("liaison://agency/health/st-olavs");
  entry.set_counterpart("malmo-social");
  entry.set_subject_pseudonym(std::string(64, 'a' + sequence % 6));
  entry.set_case_id(absl::StrCat("case-", sequence / 4));
  entry.set_message_id(absl::StrCat("msg-", sequence));
  entry.set_record_type("health");
  entry.add_fields_disclosed("address.municipality");
  entry.add_fields_withheld("diagnosis");
  entry.set_basis(v1::BASIS_KIND_CONSENT);
  entry.set_consent_id(absl::StrCat("consent-", sequence));
  entry.set_policy_version("7");
  entry.set_allowed(sequence % 3 != 0);
  entry.set_reason(sequence % 3 == 0 ? "no agreement covers the route" : "");
  entry.set_purpose("child_protection");
  return entry;
}

// A disclosure log as the broker keeps it: leaves, tree and signing key.
class TestLog {
 public:
  explicit TestLog(const LogSigner* signer) : signer_(signer) {}

  void Add(const v1::LogEntry& entry) { AddLeaf(entry.SerializeAsString()); }
  void AddLeaf(const std::string& leaf) {
    leaves_.push_back(leaf);
    nodes_.Append(leaf);
  }
  void AddEntries(uint64_t count) {
    for (uint64_t i = 0; i < count; ++i) Add(MakeEntry(leaves_.size()));
  }

  // The head of the first `size` leaves, signed `size` seconds after the
  // first entry.
  v1::TreeHead Head(uint64_t size) const {
    absl::StatusOr<std::string> root = merkle::Root(nodes_, size);
    EXPECT_TRUE(root.ok()) << root.status();
    absl::StatusOr<v1::TreeHead> head = signer_->Sign(
        size, *root,
        absl::FromUnixSeconds(kFirstSecond + static_cast<int64_t>(size)));
    EXPECT_TRUE(head.ok()) << head.status();
    return *head;
  }

  // The export line of leaf `sequence`, with its inclusion proof in the
  // tree of `proof_size` leaves unless that is 0.
  v1::LogExportLine Line(uint64_t sequence, uint64_t proof_size = 0) const {
    v1::LogExportLine line;
    line.set_sequence(sequence);
    line.set_leaf(leaves_[sequence]);
    // A leaf that is no LogEntry gets no readable entry.
    if (!line.mutable_entry()->ParseFromString(leaves_[sequence])) {
      line.clear_entry();
    }
    if (proof_size > 0) {
      absl::StatusOr<std::vector<std::string>> proof =
          merkle::InclusionProof(nodes_, sequence, proof_size);
      EXPECT_TRUE(proof.ok()) << proof.status();
      for (const std::string& hash : *proof) line.add_proof(hash);
    }
    return line;
  }

  // Every line of a complete export at `size`.
  std::vector<v1::LogExportLine> CompleteLines(uint64_t size) const {
    std::vector<v1::LogExportLine> lines;
    for (uint64_t i = 0; i < size; ++i) lines.push_back(Line(i));
    return lines;
  }

  // The lines of a partial export at `size` holding `sequences`.
  std::vector<v1::LogExportLine> PartialLines(
      uint64_t size, const std::vector<uint64_t>& sequences) const {
    std::vector<v1::LogExportLine> lines;
    for (uint64_t s : sequences) lines.push_back(Line(s, size));
    return lines;
  }

  v1::LogExportHeader Header(uint64_t size, bool complete) const {
    return HeaderFor(Head(size), complete);
  }

  v1::LogExportHeader HeaderFor(const v1::TreeHead& head, bool complete) const {
    v1::LogExportHeader header;
    header.set_format(std::string(kLogExportFormat));
    *header.mutable_tree_head() = head;
    header.set_public_key(signer_->public_key());
    header.set_complete(complete);
    return header;
  }

 private:
  const LogSigner* signer_;
  std::vector<std::string> leaves_;
  MemoryNodes nodes_;
};

std::string JsonLine(const google::protobuf::Message& message) {
  std::ostringstream out;
  absl::Status s = WriteExportLine(out, message);
  EXPECT_TRUE(s.ok()) << s;
  return out.str();
}

class LogVerifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/log_verify_test.XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    absl::StatusOr<LogSigner> signer =
        LogSigner::LoadOrCreate(dir_ + "/log.key", dir_ + "/log.pub");
    ASSERT_TRUE(signer.ok()) << signer.status();
    signer_.emplace(*std::move(signer));
    log_.emplace(&*signer_);
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }

  // Writes the export as `name`, returning its path.
  std::string Write(const std::string& name, const v1::LogExportHeader& header,
                    const std::vector<v1::LogExportLine>& lines,
                    const std::string& tail = "") {
    std::string text = JsonLine(header);
    for (const v1::LogExportLine& line : lines) text += JsonLine(line);
    return WriteText(name, text + tail);
  }

  std::string WriteText(const std::string& name, const std::string& text) {
    const std::string path = dir_ + "/" + name;
    std::ofstream out(path, std::ios::binary);
    out << text;
    EXPECT_TRUE(out.good());
    return path;
  }

  // Verifies `path` with the log's key pinned.
  absl::StatusOr<VerifyReport> Verify(const std::string& path,
                                      std::vector<v1::TreeHead> known = {}) {
    VerifyOptions options;
    options.export_path = path;
    options.public_key = signer_->public_key();
    options.known_heads = std::move(known);
    return VerifyExport(options);
  }

  // The message of a verification that must fail as tampered.
  std::string Tampered(const absl::StatusOr<VerifyReport>& report) {
    EXPECT_FALSE(report.ok());
    EXPECT_EQ(report.status().code(), absl::StatusCode::kFailedPrecondition)
        << report.status();
    return std::string(report.status().message());
  }

  std::string dir_;
  std::optional<LogSigner> signer_;
  std::optional<TestLog> log_;
};

TEST_F(LogVerifyTest, CompleteExportVerifies) {
  log_->AddEntries(37);
  const std::string path =
      Write("log.jsonl", log_->Header(37, true), log_->CompleteLines(37));
  absl::StatusOr<VerifyReport> report = Verify(path);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->entries, 37u);
  EXPECT_TRUE(report->complete);
  EXPECT_TRUE(report->key_pinned);
  EXPECT_EQ(report->head.tree_size(), 37u);
  EXPECT_EQ(report->head.root_hash(), log_->Head(37).root_hash());
  EXPECT_TRUE(report->notes.empty());
}

// The verifier's streaming root agrees with the broker's tree at every
// shape: powers of two, one more, one less, and the empty log.
TEST_F(LogVerifyTest, RecomputedRootMatchesTheBrokersTreeAtEverySize) {
  log_->AddEntries(70);
  for (uint64_t size = 0; size <= 70; ++size) {
    const std::string path =
        Write(absl::StrCat("log-", size, ".jsonl"), log_->Header(size, true),
              log_->CompleteLines(size));
    absl::StatusOr<VerifyReport> report = Verify(path);
    ASSERT_TRUE(report.ok()) << "size " << size << ": " << report.status();
    EXPECT_EQ(report->entries, size);
  }
}

TEST_F(LogVerifyTest, FormatIsCompactJsonWithProtoFieldNames) {
  log_->AddEntries(3);
  const std::string header = JsonLine(log_->Header(3, true));
  EXPECT_THAT(header, StartsWith("{\"format\":\"liaison-log-export/1\","));
  EXPECT_THAT(header, HasSubstr("\"tree_size\":\"3\""));
  EXPECT_THAT(header, HasSubstr("\"public_key\":\""));
  EXPECT_EQ(header.find('\n'), header.size() - 1);
  EXPECT_EQ(header.find(' '), std::string::npos);
  const std::string line = JsonLine(log_->Line(2));
  EXPECT_THAT(line, HasSubstr("\"subject_pseudonym\":"));
  EXPECT_THAT(line,
              HasSubstr("\"fields_disclosed\":[\"address.municipality\"]"));
}

TEST_F(LogVerifyTest, BlankTrailingLinesAreAllowedButNotInside) {
  log_->AddEntries(4);
  const std::vector<v1::LogExportLine> lines = log_->CompleteLines(4);
  const v1::LogExportHeader header = log_->Header(4, true);
  EXPECT_TRUE(Verify(Write("trailing.jsonl", header, lines, "\n\n")).ok());

  std::string text = JsonLine(header) + JsonLine(lines[0]) + "\n";
  for (size_t i = 1; i < lines.size(); ++i) text += JsonLine(lines[i]);
  const std::string path = WriteText("inside.jsonl", text);
  absl::StatusOr<VerifyReport> report = Verify(path);
  EXPECT_EQ(report.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(report.status().message()),
              HasSubstr(path + ":3: blank line inside the export"));
}

TEST_F(LogVerifyTest, ChangedReadableEntryDoesNotMatchItsLeaf) {
  log_->AddEntries(12);
  std::vector<v1::LogExportLine> lines = log_->CompleteLines(12);
  lines[5].mutable_entry()->set_counterpart("oslo-police");
  const std::string path = Write("log.jsonl", log_->Header(12, true), lines);
  const std::string message = Tampered(Verify(path));
  EXPECT_THAT(message,
              StartsWith(path + ":7: sequence 5: the readable entry does "
                                "not match the leaf"));
  EXPECT_THAT(message, HasSubstr("counterpart"));
}

TEST_F(LogVerifyTest, ChangedByteInsideALeafIsDetectedAtItsLine) {
  log_->AddEntries(12);
  std::vector<v1::LogExportLine> lines = log_->CompleteLines(12);
  std::string* leaf = lines[8].mutable_leaf();
  const size_t at = leaf->find("st-olavs");
  ASSERT_NE(at, std::string::npos);
  (*leaf)[at] = 'S';
  const std::string path = Write("log.jsonl", log_->Header(12, true), lines);
  EXPECT_THAT(Tampered(Verify(path)),
              StartsWith(path + ":10: sequence 8: the readable entry does "
                                "not match the leaf"));
}

// An edit made consistently to leaf and entry is caught by the root.
TEST_F(LogVerifyTest, EditedEntryAndLeafTogetherBreakTheRoot) {
  log_->AddEntries(12);
  std::vector<v1::LogExportLine> lines = log_->CompleteLines(12);
  lines[8].mutable_entry()->set_allowed(false);
  lines[8].set_leaf(lines[8].entry().SerializeAsString());
  const std::string path = Write("log.jsonl", log_->Header(12, true), lines);
  const std::string message = Tampered(Verify(path));
  EXPECT_THAT(message, StartsWith(path + ": the 12 entries hash to root "));
  EXPECT_THAT(message,
              HasSubstr(absl::StrCat(
                  "not to the signed root ",
                  absl::BytesToHexString(log_->Head(12).root_hash()))));
}

TEST_F(LogVerifyTest, DeletedLineReportsTheMissingSequence) {
  log_->AddEntries(20);
  std::vector<v1::LogExportLine> lines = log_->CompleteLines(20);
  lines.erase(lines.begin() + 9);
  const std::string path = Write("log.jsonl", log_->Header(20, true), lines);
  // Sequence 9 belonged on line 11, which now holds 10.
  EXPECT_EQ(Tampered(Verify(path)),
            path +
                ":11: sequence 9: missing: the line holds sequence 10 "
                "instead");
}

TEST_F(LogVerifyTest, DeletedLastLineReportsTheMissingSequence) {
  log_->AddEntries(20);
  std::vector<v1::LogExportLine> lines = log_->CompleteLines(20);
  lines.pop_back();
  const std::string path = Write("log.jsonl", log_->Header(20, true), lines);
  EXPECT_THAT(Tampered(Verify(path)),
              StartsWith(path + ": sequence 19: missing: the file ends "
                                "after 19 entries"));
}

TEST_F(LogVerifyTest, SwappedLinesReportTheFirstOutOfPlace) {
  log_->AddEntries(20);
  std::vector<v1::LogExportLine> lines = log_->CompleteLines(20);
  std::swap(lines[4], lines[5]);
  const std::string path = Write("log.jsonl", log_->Header(20, true), lines);
  EXPECT_EQ(Tampered(Verify(path)),
            path +
                ":6: sequence 4: out of order: expected here, where "
                "sequence 5 is, but found at line 7");
}

TEST_F(LogVerifyTest, InsertedCopyOfALineIsReported) {
  log_->AddEntries(20);
  std::vector<v1::LogExportLine> lines = log_->CompleteLines(20);
  lines.insert(lines.begin() + 4, lines[3]);
  const std::string path = Write("log.jsonl", log_->Header(20, true), lines);
  EXPECT_THAT(Tampered(Verify(path)),
              StartsWith(path + ":6: sequence 4: expected here, but the line "
                                "repeats sequence 3"));
}

TEST_F(LogVerifyTest, AppendedEntryBeyondTheHeadIsReported) {
  log_->AddEntries(21);
  std::vector<v1::LogExportLine> lines = log_->CompleteLines(21);
  // The head commits to 20; the file holds a 21st entry, well formed.
  const std::string path = Write("log.jsonl", log_->Header(20, true), lines);
  EXPECT_THAT(Tampered(Verify(path)),
              StartsWith(path + ":22: sequence 20: the head commits to 20 "
                                "entries; this line is beyond them"));
}

TEST_F(LogVerifyTest, LeafRecordingAnotherSequenceIsReported) {
  log_->AddEntries(3);
  log_->Add(MakeEntry(99));
  log_->AddEntries(2);
  const std::string path =
      Write("log.jsonl", log_->Header(6, true), log_->CompleteLines(6));
  EXPECT_EQ(Tampered(Verify(path)),
            path + ":5: sequence 3: the leaf records sequence 99");
}

TEST_F(LogVerifyTest, LeafThatIsNoLogEntryIsReported) {
  log_->AddEntries(2);
  log_->AddLeaf(std::string("\xff\xff\xff", 3));
  const std::string path =
      Write("log.jsonl", log_->Header(3, true), log_->CompleteLines(3));
  EXPECT_EQ(Tampered(Verify(path)),
            path + ":4: sequence 2: the leaf is not a serialized LogEntry");
}

// The broker hands out a genuine older head with a truncated log; the
// auditor kept a newer head.
TEST_F(LogVerifyTest, TruncatedExportFailsAgainstANewerKnownHead) {
  log_->AddEntries(40);
  const v1::TreeHead newer = log_->Head(40);
  const std::string path =
      Write("log.jsonl", log_->Header(30, true), log_->CompleteLines(30));
  // On its own the truncated export is self-consistent...
  ASSERT_TRUE(Verify(path).ok());
  // ...but not with what the auditor saw before.
  const std::string message = Tampered(Verify(path, {newer}));
  EXPECT_THAT(message,
              StartsWith(path + ": sequence 30: missing: the export's head "
                                "commits to 30 entries, but a head signed "));
  EXPECT_THAT(message, HasSubstr("committed to 40; the log was truncated or "
                                 "rolled back"));
}

TEST_F(LogVerifyTest, RewrittenHistoryFailsAgainstAnOlderKnownHead) {
  log_->AddEntries(20);
  const v1::TreeHead older = log_->Head(10);
  // The same key signs a log whose entry 3 was changed afterwards.
  TestLog rewritten(&*signer_);
  for (uint64_t i = 0; i < 20; ++i) {
    v1::LogEntry entry = MakeEntry(i);
    if (i == 3) entry.set_allowed(!entry.allowed());
    rewritten.Add(entry);
  }
  const std::string path = Write("log.jsonl", rewritten.Header(20, true),
                                 rewritten.CompleteLines(20));
  ASSERT_TRUE(Verify(path).ok());
  EXPECT_THAT(Tampered(Verify(path, {older})),
              StartsWith(path + ": entries 0 to 9 differ from the head of 10 "
                                "entries signed "));
  // A head of the export's own size with another root: a fork.
  EXPECT_THAT(Tampered(Verify(path, {log_->Head(20)})),
              HasSubstr("both commit to 20 entries but with different roots"));
}

TEST_F(LogVerifyTest, KnownHeadsTheExportExtendsAreReported) {
  log_->AddEntries(20);
  const std::string path =
      Write("log.jsonl", log_->Header(20, true), log_->CompleteLines(20));
  absl::StatusOr<VerifyReport> report = Verify(
      path, {log_->Head(13), log_->Head(0), log_->Head(20), log_->Head(1)});
  ASSERT_TRUE(report.ok()) << report.status();
  ASSERT_EQ(report->known_heads.size(), 4u);
  EXPECT_EQ(report->known_heads[0].head.tree_size(), 13u);
  EXPECT_EQ(report->known_heads[3].head.tree_size(), 1u);
  for (const KnownHeadCheck& check : report->known_heads) {
    EXPECT_TRUE(check.consistency_shown) << check.head.tree_size();
  }
}

TEST_F(LogVerifyTest, ForgedKnownHeadIsRefused) {
  log_->AddEntries(20);
  const std::string path =
      Write("log.jsonl", log_->Header(20, true), log_->CompleteLines(20));
  v1::TreeHead forged = log_->Head(20);
  forged.set_tree_size(15);
  EXPECT_THAT(Tampered(Verify(path, {forged})),
              HasSubstr("the known head of 15 entries signed "));
}

TEST_F(LogVerifyTest, ForgedSignatureIsRefused) {
  log_->AddEntries(8);
  v1::LogExportHeader header = log_->Header(8, true);
  (*header.mutable_tree_head()->mutable_signature())[10] ^= 1;
  const std::string path = Write("log.jsonl", header, log_->CompleteLines(8));
  EXPECT_THAT(Tampered(Verify(path)),
              StartsWith(path + ":1: the export's tree head is not genuine: "
                                "the signature on the tree head for 8 "
                                "entries does not verify"));
}

// Claiming a smaller head to hide the latest entries breaks the signature.
TEST_F(LogVerifyTest, HeadChangedAfterSigningIsRefused) {
  log_->AddEntries(8);
  v1::LogExportHeader header = log_->Header(8, true);
  const v1::TreeHead smaller = log_->Head(6);
  header.mutable_tree_head()->set_tree_size(6);
  header.mutable_tree_head()->set_root_hash(smaller.root_hash());
  const std::string path = Write("log.jsonl", header, log_->CompleteLines(6));
  EXPECT_THAT(Tampered(Verify(path)), HasSubstr("is not genuine"));
}

TEST_F(LogVerifyTest, HeadSignedByAnotherKeyFailsWhenAKeyIsPinned) {
  absl::StatusOr<LogSigner> other =
      LogSigner::LoadOrCreate(dir_ + "/other.key", dir_ + "/other.pub");
  ASSERT_TRUE(other.ok()) << other.status();
  TestLog impostor(&*other);
  impostor.AddEntries(8);
  const std::string path =
      Write("log.jsonl", impostor.Header(8, true), impostor.CompleteLines(8));

  const std::string message = Tampered(Verify(path));
  EXPECT_THAT(message,
              StartsWith(path + ":1: the export's tree head is not genuine"));
  EXPECT_THAT(message,
              HasSubstr(absl::StrCat("signed by key ", other->key_id())));

  // Unpinned, the export only agrees with itself, and says so.
  VerifyOptions unpinned;
  unpinned.export_path = path;
  absl::StatusOr<VerifyReport> report = VerifyExport(unpinned);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_FALSE(report->key_pinned);
  EXPECT_EQ(report->head.key_id(), other->key_id());
}

TEST_F(LogVerifyTest, PartialExportVerifiesWithProofs) {
  log_->AddEntries(33);
  const std::string path = Write("partial.jsonl", log_->Header(33, false),
                                 log_->PartialLines(33, {0, 2, 7, 11, 30, 32}));
  absl::StatusOr<VerifyReport> report =
      Verify(path, {log_->Head(12), log_->Head(33)});
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->entries, 6u);
  EXPECT_FALSE(report->complete);
  ASSERT_EQ(report->known_heads.size(), 2u);
  EXPECT_FALSE(report->known_heads[0].consistency_shown);
  EXPECT_TRUE(report->known_heads[1].consistency_shown);
  ASSERT_EQ(report->notes.size(), 1u);
  EXPECT_THAT(report->notes[0],
              HasSubstr("cannot show that entries were deleted"));
}

TEST_F(LogVerifyTest, PartialExportWithABadProofIsRefused) {
  log_->AddEntries(33);
  const v1::LogExportHeader header = log_->Header(33, false);
  std::vector<v1::LogExportLine> lines = log_->PartialLines(33, {2, 7, 11, 30});

  std::vector<v1::LogExportLine> flipped = lines;
  (*flipped[1].mutable_proof(2))[0] ^= 1;
  std::string path = Write("flipped.jsonl", header, flipped);
  EXPECT_EQ(Tampered(Verify(path)),
            path +
                ":3: sequence 7: not shown to be in the signed log: the "
                "inclusion proof does not lead to the root");

  std::vector<v1::LogExportLine> bare = lines;
  bare[2].clear_proof();
  path = Write("bare.jsonl", header, bare);
  EXPECT_THAT(Tampered(Verify(path)),
              StartsWith(path + ":4: sequence 11: not shown to be in the "
                                "signed log"));

  // Another entry's proof.
  std::vector<v1::LogExportLine> borrowed = lines;
  borrowed[1].mutable_proof()->CopyFrom(lines[2].proof());
  path = Write("borrowed.jsonl", header, borrowed);
  EXPECT_THAT(Tampered(Verify(path)),
              StartsWith(path + ":3: sequence 7: not shown to be in the "
                                "signed log"));

  // An entry moved to another place, proof and all.
  std::vector<v1::LogExportLine> moved = lines;
  moved[3].set_sequence(29);
  path = Write("moved.jsonl", header, moved);
  EXPECT_EQ(Tampered(Verify(path)),
            path + ":5: sequence 29: the leaf records sequence 30");
}

TEST_F(LogVerifyTest, PartialExportOutOfOrderOrBeyondTheHeadIsRefused) {
  log_->AddEntries(40);
  const v1::LogExportHeader header = log_->Header(33, false);
  std::string path =
      Write("swapped.jsonl", header, log_->PartialLines(33, {2, 11, 7, 30}));
  EXPECT_EQ(Tampered(Verify(path)),
            path + ":4: sequence 7: out of order: follows sequence 11");

  path = Write("repeated.jsonl", header, log_->PartialLines(33, {2, 7, 7}));
  EXPECT_EQ(Tampered(Verify(path)),
            path + ":4: sequence 7: repeats the previous line's sequence");

  std::vector<v1::LogExportLine> lines = log_->PartialLines(33, {2, 7});
  lines.push_back(log_->Line(35, 40));
  path = Write("beyond.jsonl", header, lines);
  EXPECT_EQ(Tampered(Verify(path)),
            path + ":4: sequence 35: not below the head's tree size 33");
}

TEST_F(LogVerifyTest, PartialExportCanStillShowTruncation) {
  log_->AddEntries(40);
  const std::string path = Write("partial.jsonl", log_->Header(30, false),
                                 log_->PartialLines(30, {4, 5}));
  EXPECT_THAT(Tampered(Verify(path, {log_->Head(40)})),
              HasSubstr("sequence 30: missing"));
}

TEST_F(LogVerifyTest, UnreadableOrMalformedInputIsNotAVerdict) {
  VerifyOptions options;
  options.export_path = dir_ + "/absent.jsonl";
  EXPECT_EQ(VerifyExport(options).status().code(), absl::StatusCode::kNotFound);

  log_->AddEntries(5);
  const std::string good = JsonLine(log_->Header(5, true));
  std::string lines;
  for (const v1::LogExportLine& line : log_->CompleteLines(5)) {
    lines += JsonLine(line);
  }

  std::string path = WriteText("broken.jsonl", good + lines + "{\"sequence\":");
  absl::StatusOr<VerifyReport> report = Verify(path);
  EXPECT_EQ(report.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(report.status().message()),
              StartsWith(path + ":7: not a liaison.v1.LogExportLine in "
                                "protobuf JSON: "));

  path = WriteText("unknown.jsonl",
                   good + "{\"sequence\":\"0\",\"comment\":\"x\"}\n");
  report = Verify(path);
  EXPECT_EQ(report.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(report.status().message()),
              StartsWith(path + ":2: "));

  v1::LogExportHeader other_format = log_->Header(5, true);
  other_format.set_format("liaison-log-export/2");
  path = Write("format.jsonl", other_format, {});
  report = Verify(path);
  EXPECT_EQ(report.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(report.status().message()),
              HasSubstr(":1: format is \"liaison-log-export/2\""));

  path = WriteText("empty.jsonl", "");
  EXPECT_EQ(Verify(path).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(LogVerifyTest, TreeHeadFilesAreReadInBothForms) {
  log_->AddEntries(5);
  const v1::TreeHead head = log_->Head(5);
  const std::string bare = WriteText("head.json", JsonLine(head));
  v1::GetTreeHeadResponse response;
  *response.mutable_tree_head() = head;
  response.set_public_key(signer_->public_key());
  const std::string wrapped = WriteText("response.json", JsonLine(response));

  for (const std::string& path : {bare, wrapped}) {
    absl::StatusOr<v1::TreeHead> read = ReadTreeHeadFile(path);
    ASSERT_TRUE(read.ok()) << path << ": " << read.status();
    EXPECT_EQ(read->SerializeAsString(), head.SerializeAsString()) << path;
  }

  const std::string junk = WriteText("junk.json", "{\"size\": 3}");
  absl::StatusOr<v1::TreeHead> read = ReadTreeHeadFile(junk);
  EXPECT_EQ(read.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(read.status().message()),
              StartsWith(junk + ": neither a liaison.v1.TreeHead nor"));
  EXPECT_EQ(ReadTreeHeadFile(dir_ + "/absent.json").status().code(),
            absl::StatusCode::kNotFound);
}

struct CliResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string Contents(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path);
  return text.ok() ? *text : "";
}

class LiaisonAuditCliTest : public LogVerifyTest {
 protected:
  CliResult Run(const std::vector<std::string>& args) {
    const std::string out_path = dir_ + "/stdout";
    const std::string err_path = dir_ + "/stderr";
    std::vector<std::string> argv_strings = {LIAISON_AUDIT_BIN};
    argv_strings.insert(argv_strings.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& s : argv_strings) argv.push_back(s.data());
    argv.push_back(nullptr);
    const pid_t pid = fork();
    if (pid == 0) {
      const int out =
          ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      const int err =
          ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      if (out < 0 || err < 0) _exit(126);
      dup2(out, STDOUT_FILENO);
      dup2(err, STDERR_FILENO);
      execv(argv[0], argv.data());
      _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CliResult result;
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    result.out = Contents(out_path);
    result.err = Contents(err_path);
    return result;
  }
};

TEST_F(LiaisonAuditCliTest, VerifiesAndReportsKnownHeads) {
  log_->AddEntries(25);
  const v1::TreeHead head = log_->Head(25);
  const std::string path =
      Write("log.jsonl", log_->HeaderFor(head, true), log_->CompleteLines(25));
  const std::string older = WriteText("older.json", JsonLine(log_->Head(10)));
  v1::GetTreeHeadResponse response;
  *response.mutable_tree_head() = log_->Head(20);
  const std::string newer = WriteText("newer.json", JsonLine(response));

  CliResult r =
      Run({"verify", "--export=" + path, "--public_key=" + dir_ + "/log.pub",
           "--known_head", older, "--known_head=" + newer});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.out, absl::StrCat("verified: 25 entries, tree size 25, root ",
                                absl::BytesToHexString(head.root_hash()),
                                ", signed 2026-09-21T14:13:45Z by key ",
                                signer_->key_id(),
                                "\n"
                                "consistent with head of 10 entries signed "
                                "2026-09-21T14:13:30Z\n"
                                "consistent with head of 20 entries signed "
                                "2026-09-21T14:13:40Z\n"));
}

TEST_F(LiaisonAuditCliTest, WarnsWhenTheKeyIsNotPinned) {
  log_->AddEntries(3);
  const std::string path =
      Write("log.jsonl", log_->Header(3, true), log_->CompleteLines(3));
  CliResult r = Run({"verify", "--export", path});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("liaison-audit: warning: the head was checked "
                               "with the key inside the export itself"));
  EXPECT_THAT(r.out, StartsWith("verified: 3 entries"));
}

TEST_F(LiaisonAuditCliTest, TamperingExitsOneNamingTheFirstBadSequence) {
  log_->AddEntries(20);
  std::vector<v1::LogExportLine> lines = log_->CompleteLines(20);
  lines.erase(lines.begin() + 9);
  const std::string path = Write("log.jsonl", log_->Header(20, true), lines);
  CliResult r =
      Run({"verify", "--export=" + path, "--public_key=" + dir_ + "/log.pub"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "liaison-audit: " + path +
                       ":11: sequence 9: missing: the line holds sequence 10 "
                       "instead\n");

  const std::string newer = WriteText("newer.json", JsonLine(log_->Head(20)));
  const std::string truncated =
      Write("truncated.jsonl", log_->Header(15, true), log_->CompleteLines(15));
  r = Run({"verify", "--export=" + truncated,
           "--public_key=" + dir_ + "/log.pub", "--known_head=" + newer});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("sequence 15: missing"));
}

TEST_F(LiaisonAuditCliTest, UsageErrorsExitTwo) {
  CliResult r = Run({"verify"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("verify needs --export=FILE"));

  r = Run({"verify", "--export=" + dir_ + "/absent.jsonl"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("absent.jsonl: no such file"));

  r = Run({"verify", "--export=x", "--since=3"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("unknown flag --since=3"));

  r = Run({"audit"});
  EXPECT_EQ(r.exit_code, 2);

  const std::string broken = WriteText("broken.jsonl", "{\"format\":\n");
  r = Run({"verify", "--export=" + broken});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err,
              HasSubstr(broken + ":1: not a liaison.v1.LogExportHeader"));
}

TEST_F(LiaisonAuditCliTest, HelpDescribesTheCommandAndEachFlag) {
  CliResult r = Run({"verify", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* flag :
       {"--export=FILE", "--public_key=FILE", "--known_head=FILE"}) {
    EXPECT_THAT(r.out, HasSubstr(flag));
  }
  r = Run({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.out, HasSubstr("verify"));
}

}  // namespace
}  // namespace liaison::audit

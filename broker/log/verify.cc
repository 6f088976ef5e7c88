#include "broker/log/verify.h"

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "broker/basics/files.h"
#include "broker/basics/status_macros.h"
#include "broker/basics/time_format.h"
#include "broker/log/merkle.h"
#include "broker/log/message_util.h"
#include "broker/log/tree_head.h"
#include "liaison/v1/audit.pb.h"

namespace liaison::audit {
namespace {

namespace pb = google::protobuf;

pb::util::JsonPrintOptions PrintOptions() {
  pb::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  return options;
}

pb::util::JsonParseOptions ParseOptions() {
  pb::util::JsonParseOptions options;
  // A field this version does not know could carry what the reader is
  // meant to check; refuse rather than drop it.
  options.ignore_unknown_fields = false;
  return options;
}

// Parses one line of protobuf JSON; the error is the parser's message.
absl::Status ParseJson(absl::string_view json, pb::Message* message) {
  pb::util::Status status = pb::util::JsonStringToMessage(
      pb::StringPiece(json.data(), json.size()), message, ParseOptions());
  if (!status.ok()) {
    return absl::InvalidArgumentError(std::string(status.message()));
  }
  return absl::OkStatus();
}

std::string Hex(absl::string_view bytes) {
  return absl::BytesToHexString(bytes);
}

std::string SignedAt(const v1::TreeHead& head) {
  return Rfc3339(TimeOf(head.time()));
}

// "head of 12 entries signed 2026-01-02T03:04:05Z"
std::string Describe(const v1::TreeHead& head) {
  return absl::StrCat("head of ", head.tree_size(), " entries signed ",
                      SignedAt(head));
}

// The RFC 9162 root of a list of leaves that grows one leaf at a time, in
// O(log n) memory: the hashes of the perfect subtrees the leaves so far
// decompose into, largest (leftmost) first, one per set bit of the size.
class GrowingTree {
 public:
  void Append(std::string leaf_hash) {
    // Each trailing 1 bit of the old size is a subtree of the new leaf's
    // height that now has a right sibling.
    for (uint64_t n = size_; n & 1; n >>= 1) {
      std::string right = std::move(leaf_hash);
      leaf_hash = merkle::NodeHash(subtrees_.back(), right);
      subtrees_.pop_back();
    }
    subtrees_.push_back(std::move(leaf_hash));
    ++size_;
  }

  uint64_t size() const { return size_; }

  // MTH of the leaves so far. RFC 9162 splits a tree at the largest power
  // of two below its size, which is the leftmost subtree, so the root
  // folds the subtrees from the right.
  std::string Root() const {
    if (subtrees_.empty()) return merkle::EmptyRoot();
    std::string root = subtrees_.back();
    for (size_t i = subtrees_.size() - 1; i-- > 0;) {
      root = merkle::NodeHash(subtrees_[i], root);
    }
    return root;
  }

 private:
  uint64_t size_ = 0;
  std::vector<std::string> subtrees_;
};

// The export's lines, read one at a time. Blank lines may only end the
// file; a trailing '\r' is ignored.
class LineReader {
 public:
  explicit LineReader(std::string path) : path_(std::move(path)) {}

  absl::Status Open() {
    in_.open(path_, std::ios::binary);
    if (in_) return absl::OkStatus();
    if (errno == ENOENT) {
      return absl::NotFoundError(absl::StrCat(path_, ": no such file"));
    }
    return absl::PermissionDeniedError(
        absl::StrCat(path_, ": cannot open: ", std::strerror(errno)));
  }

  // Sets `line` to the next line that is not blank; false at the end.
  absl::StatusOr<bool> Next(std::string* line) {
    int blank_at = 0;
    while (std::getline(in_, *line)) {
      ++number_;
      if (!line->empty() && line->back() == '\r') line->pop_back();
      if (absl::StripAsciiWhitespace(*line).empty()) {
        if (blank_at == 0) blank_at = number_;
        continue;
      }
      if (blank_at != 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            path_, ":", blank_at,
            ": blank line inside the export; only the end may be blank"));
      }
      return true;
    }
    if (in_.bad()) {
      return absl::DataLossError(
          absl::StrCat(path_, ": cannot read: ", std::strerror(errno)));
    }
    return false;
  }

  // Of the line Next returned last, counted from 1.
  int number() const { return number_; }
  const std::string& path() const { return path_; }

 private:
  const std::string path_;
  std::ifstream in_;
  int number_ = 0;
};

class ExportVerifier {
 public:
  explicit ExportVerifier(const VerifyOptions& options)
      : options_(options), lines_(options.export_path) {}

  absl::StatusOr<VerifyReport> Run() {
    RETURN_IF_ERROR(lines_.Open());
    RETURN_IF_ERROR(ReadHeader());
    RETURN_IF_ERROR(CheckKnownHeadsUpFront());
    if (report_.complete) {
      RETURN_IF_ERROR(VerifyComplete());
    } else {
      RETURN_IF_ERROR(VerifyPartial());
    }
    if (unshown_fields_ > 0) {
      report_.notes.push_back(absl::StrCat(
          unshown_fields_,
          " leaves hold fields this version of the verifier does not know; "
          "their readable entries do not show them, but the hashes cover "
          "them."));
    }
    return std::move(report_);
  }

 private:
  const std::string& path() const { return lines_.path(); }
  uint64_t tree_size() const { return report_.head.tree_size(); }

  // A problem with the line last read.
  absl::Status LineProblem(uint64_t sequence, absl::string_view what) const {
    return absl::FailedPreconditionError(absl::StrCat(
        path(), ":", lines_.number(), ": sequence ", sequence, ": ", what));
  }

  // A problem of the file as a whole.
  absl::Status FileProblem(absl::string_view what) const {
    return absl::FailedPreconditionError(absl::StrCat(path(), ": ", what));
  }

  absl::Status ReadHeader() {
    std::string text;
    ASSIGN_OR_RETURN(bool any, lines_.Next(&text));
    if (!any) {
      return absl::InvalidArgumentError(
          absl::StrCat(path(), ": empty; not a disclosure-log export"));
    }
    v1::LogExportHeader header;
    if (absl::Status s = ParseJson(text, &header); !s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path(), ":", lines_.number(),
                       ": not a liaison.v1.LogExportHeader in protobuf JSON: ",
                       s.message()));
    }
    if (header.format() != kLogExportFormat) {
      return absl::InvalidArgumentError(
          absl::StrCat(path(), ":", lines_.number(), ": format is \"",
                       header.format(), "\", not \"", kLogExportFormat, "\""));
    }
    if (!header.has_tree_head()) {
      return absl::InvalidArgumentError(absl::StrCat(
          path(), ":", lines_.number(), ": the header has no tree_head"));
    }
    report_.head = header.tree_head();
    report_.complete = header.complete();
    report_.key_pinned = options_.public_key.has_value();
    if (report_.key_pinned) {
      key_ = *options_.public_key;
      if (!header.public_key().empty() && header.public_key() != key_) {
        report_.notes.push_back(
            absl::StrCat("The export's copy of the public key (key ",
                         LogKeyId(header.public_key()),
                         ") is not the pinned key; the pinned key was used."));
      }
    } else if (header.public_key().empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          path(), ":", lines_.number(),
          ": the export carries no public key; give the broker's log "
          "public key to check its head with"));
    } else {
      key_ = header.public_key();
    }
    if (absl::Status s = VerifyTreeHead(report_.head, key_); !s.ok()) {
      return absl::FailedPreconditionError(absl::StrCat(
          path(), ":", lines_.number(),
          ": the export's tree head is not genuine: ", s.message()));
    }
    return absl::OkStatus();
  }

  // What can be checked of a known head without reading the entries: its
  // signature, its size against the export's, and a root that two heads of
  // one size must share.
  absl::Status CheckKnownHeadsUpFront() {
    for (const v1::TreeHead& known : options_.known_heads) {
      KnownHeadCheck check;
      check.head = known;
      if (absl::Status s = VerifyTreeHead(known, key_); !s.ok()) {
        return FileProblem(absl::StrCat("the known ", Describe(known),
                                        " is not genuine: ", s.message()));
      }
      if (known.tree_size() > tree_size()) {
        return FileProblem(
            absl::StrCat("sequence ", tree_size(),
                         ": missing: the export's head commits "
                         "to ",
                         tree_size(), " entries, but a head signed ",
                         SignedAt(known), " committed to ", known.tree_size(),
                         "; the log was truncated or rolled back"));
      }
      if (known.tree_size() == tree_size()) {
        if (known.root_hash() != report_.head.root_hash()) {
          return FileProblem(
              absl::StrCat("the export's head and a head signed ",
                           SignedAt(known), " both commit to ", tree_size(),
                           " entries but with different "
                           "roots (",
                           Hex(report_.head.root_hash()), " and ",
                           Hex(known.root_hash()), "); the log was rewritten"));
        }
        check.consistency_shown = true;
      }
      if (known.tree_size() == 0) {
        if (known.root_hash() != merkle::EmptyRoot()) {
          return FileProblem(absl::StrCat("the known ", Describe(known),
                                          " does not carry the empty root"));
        }
        check.consistency_shown = true;
      }
      report_.known_heads.push_back(std::move(check));
    }
    return absl::OkStatus();
  }

  absl::Status ParseLine(const std::string& text, v1::LogExportLine* line) {
    if (absl::Status s = ParseJson(text, line); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          path(), ":", lines_.number(),
          ": not a liaison.v1.LogExportLine in protobuf JSON: ", s.message()));
    }
    return absl::OkStatus();
  }

  // The leaf is a LogEntry of the line's sequence, and the readable entry
  // shows exactly what it holds.
  absl::Status CheckLeaf(const v1::LogExportLine& line) {
    const uint64_t sequence = line.sequence();
    if (!leaf_entry_.ParseFromString(line.leaf())) {
      return LineProblem(sequence, "the leaf is not a serialized LogEntry");
    }
    leaf_entry_.DiscardUnknownFields();
    if (leaf_entry_.ByteSizeLong() != line.leaf().size()) ++unshown_fields_;
    if (leaf_entry_.SerializeAsString() != line.entry().SerializeAsString()) {
      pb::util::MessageDifferencer differencer;
      std::string differences;
      differencer.ReportDifferencesToString(&differences);
      if (!differencer.Compare(leaf_entry_, line.entry())) {
        absl::string_view first = differences;
        first = absl::StripAsciiWhitespace(first.substr(0, first.find('\n')));
        return LineProblem(
            sequence,
            absl::StrCat("the readable entry does not match the leaf (", first,
                         ")"));
      }
    }
    if (leaf_entry_.sequence() != sequence) {
      return LineProblem(sequence, absl::StrCat("the leaf records sequence ",
                                                leaf_entry_.sequence()));
    }
    return absl::OkStatus();
  }

  // Line `lines_.number()` holds `found` where a complete export must hold
  // `expected`. Reads on to tell a missing entry from a misplaced one.
  absl::Status SequenceProblem(uint64_t expected, uint64_t found) {
    const int line_number = lines_.number();
    auto problem = [&](absl::string_view what) {
      return absl::FailedPreconditionError(absl::StrCat(
          path(), ":", line_number, ": sequence ", expected, ": ", what));
    };
    if (found < expected) {
      return problem(
          absl::StrCat("expected here, but the line repeats sequence ", found,
                       " (a duplicated or inserted line)"));
    }
    std::string text;
    v1::LogExportLine later;
    while (true) {
      absl::StatusOr<bool> more = lines_.Next(&text);
      if (!more.ok() || !*more || !ParseLine(text, &later).ok()) break;
      if (later.sequence() == expected) {
        return problem(
            absl::StrCat("out of order: expected here, where sequence ", found,
                         " is, but found at line ", lines_.number()));
      }
    }
    return problem(
        absl::StrCat("missing: the line holds sequence ", found, " instead"));
  }

  absl::Status VerifyComplete() {
    std::vector<const v1::TreeHead*> known;
    for (const v1::TreeHead& head : options_.known_heads) {
      if (head.tree_size() > 0) known.push_back(&head);
    }
    std::sort(known.begin(), known.end(),
              [](const v1::TreeHead* a, const v1::TreeHead* b) {
                return a->tree_size() < b->tree_size();
              });
    auto next_known = known.begin();
    GrowingTree tree;
    std::string text;
    v1::LogExportLine line;
    while (true) {
      ASSIGN_OR_RETURN(bool more, lines_.Next(&text));
      if (!more) break;
      RETURN_IF_ERROR(ParseLine(text, &line));
      if (tree.size() == tree_size()) {
        return LineProblem(line.sequence(),
                           absl::StrCat("the head commits to ", tree_size(),
                                        " entries; this line is beyond them"));
      }
      if (line.sequence() != tree.size()) {
        return SequenceProblem(tree.size(), line.sequence());
      }
      RETURN_IF_ERROR(CheckLeaf(line));
      tree.Append(merkle::LeafHash(line.leaf()));
      ++report_.entries;
      for (; next_known != known.end() &&
             (*next_known)->tree_size() == tree.size();
           ++next_known) {
        const std::string root = tree.Root();
        if (root != (*next_known)->root_hash()) {
          return FileProblem(absl::StrCat(
              "entries 0 to ", tree.size() - 1, " differ from the ",
              Describe(**next_known), ": their root is ", Hex(root),
              ", the head's ", Hex((*next_known)->root_hash()),
              "; an entry below ", tree.size(),
              " was changed, added or removed after that head was signed"));
        }
      }
    }
    if (tree.size() < tree_size()) {
      return FileProblem(absl::StrCat(
          "sequence ", tree.size(), ": missing: the file ends after ",
          tree.size(), " entries, but its head commits to ", tree_size()));
    }
    const std::string root = tree.Root();
    if (root != report_.head.root_hash()) {
      return FileProblem(absl::StrCat(
          "the ", tree_size(), " entries hash to root ", Hex(root),
          ", not to the signed root ", Hex(report_.head.root_hash()),
          "; an entry was changed"));
    }
    for (KnownHeadCheck& check : report_.known_heads) {
      check.consistency_shown = true;
    }
    return absl::OkStatus();
  }

  absl::Status VerifyPartial() {
    report_.notes.push_back(
        "A partial export holds only some entries: it shows that each is in "
        "the signed log, but it cannot show that entries were deleted.");
    std::string text;
    v1::LogExportLine line;
    bool first = true;
    uint64_t previous = 0;
    std::vector<std::string> proof;
    while (true) {
      ASSIGN_OR_RETURN(bool more, lines_.Next(&text));
      if (!more) break;
      RETURN_IF_ERROR(ParseLine(text, &line));
      const uint64_t sequence = line.sequence();
      if (!first && sequence <= previous) {
        return LineProblem(
            sequence,
            sequence == previous
                ? std::string("repeats the previous line's sequence")
                : absl::StrCat("out of order: follows sequence ", previous));
      }
      if (sequence >= tree_size()) {
        return LineProblem(
            sequence,
            absl::StrCat("not below the head's tree size ", tree_size()));
      }
      RETURN_IF_ERROR(CheckLeaf(line));
      proof.assign(line.proof().begin(), line.proof().end());
      if (absl::Status s = merkle::VerifyInclusion(
              sequence, tree_size(), merkle::LeafHash(line.leaf()), proof,
              report_.head.root_hash());
          !s.ok()) {
        return LineProblem(
            sequence,
            absl::StrCat("not shown to be in the signed log: ", s.message()));
      }
      first = false;
      previous = sequence;
      ++report_.entries;
    }
    return absl::OkStatus();
  }

  const VerifyOptions& options_;
  LineReader lines_;
  VerifyReport report_;
  // The key the heads are checked with.
  std::string key_;
  // Reused across lines.
  v1::LogEntry leaf_entry_;
  uint64_t unshown_fields_ = 0;
};

}  // namespace

absl::Status WriteExportLine(std::ostream& out,
                             const google::protobuf::Message& message) {
  std::string json;
  pb::util::Status status =
      pb::util::MessageToJsonString(message, &json, PrintOptions());
  if (!status.ok()) {
    return absl::InternalError(
        absl::StrCat("cannot print ", message.GetTypeName(),
                     " as JSON: ", std::string(status.message())));
  }
  json.push_back('\n');
  out.write(json.data(), static_cast<std::streamsize>(json.size()));
  if (!out) return absl::DataLossError("cannot write the export line");
  return absl::OkStatus();
}

absl::StatusOr<v1::TreeHead> ReadTreeHeadFile(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  v1::TreeHead head;
  const absl::Status as_head = ParseJson(text, &head);
  if (as_head.ok()) return head;
  v1::GetTreeHeadResponse response;
  const absl::Status as_response = ParseJson(text, &response);
  if (as_response.ok() && response.has_tree_head()) {
    return response.tree_head();
  }
  // Explain with the parser of the message the file looks like.
  const bool response_like = absl::StrContains(text, "\"tree_head\"") ||
                             absl::StrContains(text, "\"treeHead\"");
  return absl::InvalidArgumentError(absl::StrCat(
      path,
      ": neither a liaison.v1.TreeHead nor a liaison.v1.GetTreeHeadResponse "
      "in protobuf JSON: ",
      response_like && !as_response.ok() ? as_response.message()
                                         : as_head.message()));
}

absl::StatusOr<VerifyReport> VerifyExport(const VerifyOptions& options) {
  if (options.export_path.empty()) {
    return absl::InvalidArgumentError("no export file given");
  }
  return ExportVerifier(options).Run();
}

}  // namespace liaison::audit

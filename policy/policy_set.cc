#include "policy/policy_set.h"

#include <dirent.h>
#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>
#include <openssl/sha.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "broker/basics/text_errors.h"
#include "policy/policy_check.h"

namespace liaison::policy {
namespace {

using internal::ParsedFile;

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::TextFormat;


// Syntax errors of one file as "file:line:column: message".
class SyntaxErrors final : public google::protobuf::io::ErrorCollector {
 public:
  SyntaxErrors(std::string file, const std::string* text,
               std::vector<std::string>* out)
      : file_(std::move(file)), text_(text), out_(out) {}
  void AddError(int line, int column, const std::string& message) override {
    PointAtBadValue(*text_, message, &line, &column);
    out_->push_back(
        absl::StrCat(file_, ":", line + 1, ":", column + 1, ": ", message));
  }
  void AddWarning(int line, int column, const std::string& message) override {
    AddError(line, column, message);
  }

 private:
  std::string file_;
  const std::string* text_;
  std::vector<std::string>* out_;
};

// True when `s` is well-formed UTF-8 (no overlong forms, surrogates or
// code points past U+10FFFF).
bool IsUtf8(absl::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    int extra;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      extra = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + static_cast<size_t>(extra) >= s.size()) return false;
    for (int k = 1; k <= extra; ++k) {
      const unsigned char d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += extra + 1;
  }
  return true;
}

// Every text field of a policy file must be UTF-8: escapes such as "\377"
// can write other bytes, which no id, name or provision may hold.
void CheckUtf8(const google::protobuf::Message& m,
               const TextFormat::ParseInfoTree* tree, const std::string& file,
               int line, std::vector<std::string>* problems) {
  const google::protobuf::Reflection* r = m.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  r->ListFields(m, &fields);
  for (const FieldDescriptor* f : fields) {
    const int n = f->is_repeated() ? r->FieldSize(m, f) : 1;
    for (int i = 0; i < n; ++i) {
      const int index = f->is_repeated() ? i : -1;
      const int at = tree == nullptr ? -1 : tree->GetLocation(f, index).line;
      const int here = at < 0 ? line : at + 1;
      if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
        CheckUtf8(f->is_repeated() ? r->GetRepeatedMessage(m, f, i)
                                   : r->GetMessage(m, f),
                  tree == nullptr ? nullptr : tree->GetTreeForNested(f, index),
                  file, here, problems);
      } else if (f->cpp_type() == FieldDescriptor::CPPTYPE_STRING &&
                 !IsUtf8(f->is_repeated() ? r->GetRepeatedString(m, f, i)
                                          : r->GetString(m, f))) {
        problems->push_back(absl::StrCat(
            file, ":", here, ": ", f->name(),
            " is not UTF-8 text; write the characters themselves, not byte "
            "escapes"));
      }
    }
  }
}



}  // namespace

absl::StatusOr<std::shared_ptr<const PolicySet>> PolicySet::FromSources(
    const std::vector<PolicySource>& sources) {
  std::vector<std::string> problems;
  std::vector<ParsedFile> files;
  for (const PolicySource& source : sources) {
    ParsedFile parsed;
    parsed.name = source.name;
    parsed.tree = std::make_unique<TextFormat::ParseInfoTree>();
    SyntaxErrors errors(source.name, &source.text, &problems);
    TextFormat::Parser parser;
    parser.RecordErrorsTo(&errors);
    parser.WriteLocationsTo(parsed.tree.get());
    if (!parser.ParseFromString(source.text, &parsed.file)) {
      if (problems.empty()) {
        problems.push_back(absl::StrCat(source.name, ":1: cannot be parsed"));
      }
      continue;
    }
    CheckUtf8(parsed.file, parsed.tree.get(), source.name, 1, &problems);
    files.push_back(std::move(parsed));
  }
  if (!problems.empty()) {
    return absl::InvalidArgumentError(absl::StrJoin(problems, "\n"));
  }
  if (files.empty()) {
    return absl::InvalidArgumentError(
        "policy set: no policy files (*.textproto) to load");
  }

  auto set = std::shared_ptr<PolicySet>(new PolicySet());
  internal::CheckPolicyFiles(files, &set->agreements_, &problems);
  if (!problems.empty()) {
    return absl::InvalidArgumentError(absl::StrJoin(problems, "\n"));
  }
  for (const ParsedFile& f : files) set->merged_.MergeFrom(f.file);
  if (set->merged_.has_age_bands()) {
    set->age_bands_.assign(set->merged_.age_bands().starts().begin(),
                           set->merged_.age_bands().starts().end());
  } else {
    set->age_bands_ = {0, 6, 13, 16, 18, 25, 65};
  }

  std::string canonical;
  {
    google::protobuf::io::StringOutputStream stream(&canonical);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    set->merged_.SerializeToCodedStream(&coded);
  }
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(canonical.data()),
         canonical.size(), digest);
  set->version_ =
      absl::StrCat("p-", absl::BytesToHexString(absl::string_view(
                             reinterpret_cast<const char*>(digest), 8)));
  return std::shared_ptr<const PolicySet>(std::move(set));
}

absl::StatusOr<std::shared_ptr<const PolicySet>> PolicySet::FromDirectory(
    const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) {
    return absl::NotFoundError(absl::StrCat(
        dir, ": cannot open the policy folder: ", std::strerror(errno)));
  }
  std::vector<std::string> names;
  while (dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (absl::EndsWith(name, ".textproto") && name[0] != '.') {
      names.push_back(name);
    }
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  if (names.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(dir, ": no policy files (*.textproto) in the folder"));
  }
  std::vector<PolicySource> sources;
  for (const std::string& name : names) {
    const std::string path = absl::StrCat(dir, "/", name);
    std::ifstream in(path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    if (!in) {
      return absl::NotFoundError(absl::StrCat(path, ": cannot be read"));
    }
    sources.push_back({path, text.str()});
  }
  return FromSources(sources);
}

const v1::Jurisdiction* PolicySet::FindJurisdiction(
    const std::string& id) const {
  for (const v1::Jurisdiction& j : merged_.jurisdictions()) {
    if (j.id() == id) return &j;
  }
  return nullptr;
}

const v1::Sector* PolicySet::FindSector(const std::string& name) const {
  for (const v1::Sector& s : merged_.sectors()) {
    if (s.name() == name) return &s;
  }
  return nullptr;
}

const v1::RecordRules* PolicySet::FindRecordRules(
    const std::string& type) const {
  for (const v1::RecordRules& r : merged_.records()) {
    if (r.record_type() == type) return &r;
  }
  return nullptr;
}

const v1::EnvelopeRules* PolicySet::FindEnvelopeRules(
    absl::string_view message) const {
  for (const v1::EnvelopeRules& e : merged_.envelopes()) {
    if (e.message() == message) return &e;
  }
  return nullptr;
}

const v1::CodeMapping* PolicySet::FindMapping(const std::string& name) const {
  for (const v1::CodeMapping& m : merged_.code_mappings()) {
    if (m.name() == name) return &m;
  }
  return nullptr;
}

absl::StatusOr<std::shared_ptr<const PolicySet>> PolicyInForce::Reload() {
  absl::StatusOr<std::shared_ptr<const PolicySet>> loaded =
      PolicySet::FromDirectory(dir_);
  if (!loaded.ok()) return loaded.status();
  absl::MutexLock lock(&mu_);
  current_ = *loaded;
  return loaded;
}

void PolicyInForce::Install(std::shared_ptr<const PolicySet> set) {
  absl::MutexLock lock(&mu_);
  current_ = std::move(set);
}

std::shared_ptr<const PolicySet> PolicyInForce::Get() const {
  absl::MutexLock lock(&mu_);
  return current_;
}

}  // namespace liaison::policy

// The checks of meaning a policy set passes after every file parsed
// (policy_set.cc parses): names, references, levels, envelopes, routes and
// overlapping agreements. Internal to the policy library.
#ifndef LIAISON_POLICY_POLICY_CHECK_H_
#define LIAISON_POLICY_POLICY_CHECK_H_

#include <google/protobuf/text_format.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "liaison/v1/policy.pb.h"
#include "policy/policy_set.h"

namespace liaison::policy::internal {

// Where an element of a policy file was written, to name it in errors.
class Site {
 public:
  Site(std::string file, const google::protobuf::TextFormat::ParseInfoTree* tree, int line)
      : file_(std::move(file)), tree_(tree), line_(line) {}

  // "file:line" of the element itself.
  std::string Here() const { return absl::StrCat(file_, ":", line_); }

  // "file:line" of `field` inside the element (its `index`-th value when
  // repeated), or of the element when the field is not written.
  std::string At(const google::protobuf::Descriptor* type, const std::string& field,
                 int index = -1) const {
    const google::protobuf::FieldDescriptor* f = type->FindFieldByName(field);
    if (tree_ == nullptr || f == nullptr) return Here();
    const int line = tree_->GetLocation(f, index).line;
    return line < 0 ? Here() : absl::StrCat(file_, ":", line + 1);
  }

  // The site of a message written in `field` (its `index`-th value).
  Site Nested(const google::protobuf::Descriptor* type, const std::string& field,
              int index) const {
    const google::protobuf::FieldDescriptor* f = type->FindFieldByName(field);
    if (tree_ == nullptr || f == nullptr) return *this;
    const int line = tree_->GetLocation(f, index).line;
    return Site(file_, tree_->GetTreeForNested(f, index),
                line < 0 ? line_ : line + 1);
  }

 private:
  std::string file_;
  const google::protobuf::TextFormat::ParseInfoTree* tree_;
  int line_;
};

// One parsed policy file and where each of its parts was written.
struct ParsedFile {
  std::string name;
  v1::PolicyFile file;
  std::unique_ptr<google::protobuf::TextFormat::ParseInfoTree> tree;
};

template <typename T>
struct Placed {
  const T* value;
  Site site;
};

// Checks the meaning of `files` together: appends one line per problem to
// `problems` ("file:line: message"), and fills `agreements` with each
// agreement and its parsed validity.
void CheckPolicyFiles(const std::vector<ParsedFile>& files,
                      std::vector<LoadedAgreement>* agreements,
                      std::vector<std::string>* problems);

}  // namespace liaison::policy::internal

#endif  // LIAISON_POLICY_POLICY_CHECK_H_

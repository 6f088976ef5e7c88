#include "broker/request_shape.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/reflection.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "liaison/v1/records.pb.h"

namespace liaison {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// Fields of free text, by name, wherever they appear in a request.
bool IsFreeText(const FieldDescriptor* f) {
  static const char* const kNames[] = {"requested_action",
                                       "detail",
                                       "statement",
                                       "note",
                                       "reason",
                                       "withdrawal_reason",
                                       "person_not_informed_reason",
                                       "comment"};
  for (const char* name : kNames) {
    if (f->name() == name) return true;
  }
  return false;
}

// At most this many problems are listed; the rest are counted.
constexpr size_t kMaxProblems = 10;

void Check(const Message& m, const std::string& prefix,
           std::vector<std::string>* problems, size_t* more) {
  auto add = [&](std::string problem) {
    if (problems->size() < kMaxProblems) {
      problems->push_back(std::move(problem));
    } else {
      ++*more;
    }
  };
  const Reflection* r = m.GetReflection();
  std::vector<const FieldDescriptor*> set;
  r->ListFields(m, &set);
  for (const FieldDescriptor* f : set) {
    const std::string path = absl::StrCat(prefix, f->name());
    const int n = f->is_repeated() ? r->FieldSize(m, f) : 1;
    for (int i = 0; i < n; ++i) {
      const std::string at =
          f->is_repeated() ? absl::StrCat(path, "[", i, "]") : path;
      switch (f->cpp_type()) {
        case FieldDescriptor::CPPTYPE_ENUM: {
          const int v = f->is_repeated() ? r->GetRepeatedEnumValue(m, f, i)
                                         : r->GetEnumValue(m, f);
          if (f->enum_type()->FindValueByNumber(v) == nullptr) {
            add(absl::StrCat(at, ": ", v, " is not a ", f->enum_type()->name(),
                             " value"));
          }
          break;
        }
        case FieldDescriptor::CPPTYPE_STRING: {
          std::string scratch;
          const std::string& s =
              f->is_repeated()
                  ? r->GetRepeatedStringReference(m, f, i, &scratch)
                  : r->GetStringReference(m, f, &scratch);
          const size_t limit = IsFreeText(f) ? kMaxFreeText : kMaxShortText;
          if (s.size() > limit) {
            add(absl::StrCat(at, " is ", s.size(), " bytes; at most ", limit));
          }
          break;
        }
        case FieldDescriptor::CPPTYPE_MESSAGE: {
          if (f->message_type() == v1::Record::descriptor()) break;
          const Message& sub = f->is_repeated() ? r->GetRepeatedMessage(m, f, i)
                                                : r->GetMessage(m, f);
          Check(sub, at + ".", problems, more);
          break;
        }
        default:
          break;
      }
    }
  }
}

class UnparsableRequestInterceptor final
    : public grpc::experimental::Interceptor {
 public:
  explicit UnparsableRequestInterceptor(const char* method)
      : method_(method == nullptr ? "" : method) {}

  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    using grpc::experimental::InterceptionHookPoints;
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::POST_RECV_MESSAGE) &&
        methods->GetRecvMessage() == nullptr) {
      unparsable_ = true;
    }
    if (unparsable_ && methods->QueryInterceptionHookPoint(
                           InterceptionHookPoints::PRE_SEND_STATUS)) {
      methods->ModifySendStatus(grpc::Status(
          grpc::StatusCode::INVALID_ARGUMENT,
          absl::StrCat("the request to ", method_,
                       " does not parse as its liaison.v1 request message "
                       "(protobuf binary); nothing was done")));
    }
    methods->Proceed();
  }

 private:
  const std::string method_;
  bool unparsable_ = false;
};

}  // namespace

absl::Status CheckRequestShape(const Message& request) {
  std::vector<std::string> problems;
  size_t more = 0;
  Check(request, "", &problems, &more);
  if (problems.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("the request is malformed: ", absl::StrJoin(problems, "; "),
                   more > 0 ? absl::StrCat("; and ", more, " more") : "",
                   "; nothing was stored"));
}

grpc::experimental::Interceptor*
UnparsableRequestInterceptorFactory::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  // Only where the caller sends one request: on a stream of requests a
  // read without a message is also the caller closing its side.
  using Type = grpc::experimental::ServerRpcInfo::Type;
  if (info->type() == Type::CLIENT_STREAMING ||
      info->type() == Type::BIDI_STREAMING) {
    return nullptr;
  }
  return new UnparsableRequestInterceptor(info->method());
}

}  // namespace liaison

#include "broker/admin_service.h"

#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "broker/message_util.h"

namespace liaison {

void ReloadPolicyLogged(policy::PolicyInForce* policy, Store* store,
                        const Clock* clock, const std::string& actor,
                        const v1::Professional& professional,
                        std::function<void(absl::StatusOr<std::string>)> done) {
  absl::StatusOr<std::shared_ptr<const policy::PolicySet>> loaded =
      policy->Load();
  const std::shared_ptr<const policy::PolicySet> current = policy->Get();
  const std::string in_force = current ? current->version() : "";
  v1::LogEntry e;
  SetTime(e.mutable_time(), clock->Now());
  e.set_kind(v1::ENTRY_KIND_ADMIN);
  e.set_actor(actor);
  *e.mutable_professional() = professional;
  e.set_allowed(loaded.ok());
  if (loaded.ok()) {
    e.set_policy_version((*loaded)->version());
    e.set_reason(absl::StrCat("policy reloaded from ", policy->dir(), ": ",
                              in_force, " replaced by ", (*loaded)->version()));
  } else {
    const size_t problems = std::vector<std::string>(
                                absl::StrSplit(loaded.status().message(), '\n'))
                                .size();
    e.set_policy_version(in_force);
    e.set_reason(absl::StrCat("policy reload from ", policy->dir(),
                              " refused: ", problems, " problems; policy ",
                              in_force, " stays in force"));
  }
  store->AppendLog(std::move(e), [policy, loaded, done = std::move(done)](
                                     absl::StatusOr<uint64_t> sequence) {
    if (!sequence.ok()) {
      done(sequence.status());
      return;
    }
    if (!loaded.ok()) {
      done(loaded.status());
      return;
    }
    policy->Install(*loaded);
    done((*loaded)->version());
  });
}

grpc::ServerUnaryReactor* AdminService::ReloadPolicy(
    grpc::CallbackServerContext* ctx, const v1::ReloadRequest* /*request*/,
    v1::ReloadResponse* response) {
  absl::StatusOr<v1::Principal> admin =
      auth_->Authorize(*ctx->auth_context(), kAllowed, kServiceName);
  if (!admin.ok()) return FinishUnary(ctx, admin.status());
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  ReloadPolicyLogged(
      policy_, store_, clock_, admin->uri(), ProfessionalOf(ctx),
      [reactor, response, policy = policy_](absl::StatusOr<std::string> v) {
        if (v.ok()) {
          response->set_version(*v);
          const std::shared_ptr<const policy::PolicySet> set = policy->Get();
          response->set_detail(absl::StrCat(
              "policy ", *v, " in force: ", set->agreements().size(),
              " agreements, ", set->merged().jurisdictions_size(),
              " jurisdictions"));
        }
        reactor->Finish(ToGrpcStatus(v.status()));
      });
  return reactor;
}

}  // namespace liaison

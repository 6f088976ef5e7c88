// A broker with a hospital, a social care agency, an auditor and an admin
// ("ops"), and the calls the administration and certificate lifecycle tests
// make of it (DESIGN.md sections 3 and 8).
#ifndef LIAISON_TESTS_COMMON_ADMIN_FIXTURE_H_
#define LIAISON_TESTS_COMMON_ADMIN_FIXTURE_H_

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "liaison/v1/admin.grpc.pb.h"
#include "liaison/v1/audit.grpc.pb.h"
#include "liaison/v1/exchange.grpc.pb.h"
#include "tests/integration/harness.h"

namespace liaison::testing {

// An open Receive stream, read on its own thread until the broker ends it.
class OpenStream {
 public:
  explicit OpenStream(const std::shared_ptr<grpc::Channel>& channel)
      : stub_(v1::Exchange::NewStub(channel)) {
    reader_ = stub_->Receive(&ctx_, v1::ReceiveRequest());
    ended_ = std::async(std::launch::async, [this] {
               v1::InboxMessage m;
               while (reader_->Read(&m)) ++read_;
               return reader_->Finish();
             }).share();
  }
  ~OpenStream() {
    ctx_.TryCancel();
    ended_.wait();
  }
  // The status the stream ended with, or nullopt if it is still open after
  // `wait`.
  std::optional<grpc::Status> EndedWithin(absl::Duration wait) {
    if (ended_.wait_for(absl::ToChronoSeconds(wait)) !=
        std::future_status::ready) {
      return std::nullopt;
    }
    return ended_.get();
  }
  int read() const { return read_; }

 private:
  std::unique_ptr<v1::Exchange::Stub> stub_;
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReader<v1::InboxMessage>> reader_;
  std::atomic<int> read_{0};
  std::shared_future<grpc::Status> ended_;
};

// The deployment above, its credentials issued and its broker running with
// a two-second shutdown grace. The agencies are "st-olavs" (health) and
// "malmo-sc" (social care), both in area "malmo"; the auditor is "dpo".
class AdminTest : public ::testing::Test {
 protected:
  void SetUp() override;

  std::shared_ptr<grpc::Channel> Channel(const Credentials& creds);
  std::unique_ptr<v1::Admin::Stub> Admin(const Credentials& creds);

  grpc::Status WhoAmI(const Credentials& creds);

  // The broker's status as the admin sees it; the test fails if refused.
  v1::BrokerStatus Status();

  // Waits until the broker counts `agency_id` as connected (or not).
  bool WaitConnected(const std::string& agency_id, bool connected);

  // Suspends agency `id` as the admin; `out`, when not null, receives the
  // agency as the broker returned it.
  grpc::Status Suspend(const std::string& id, const std::string& reason,
                       v1::Agency* out = nullptr);

  // Binds (or, when `bind` is false, unbinds) `serial` to agency `id` as
  // the admin; `out` as for Suspend.
  grpc::Status Bind(const std::string& id, const std::string& serial, bool bind,
                    v1::Agency* out = nullptr);

  // The ADMIN entries of the disclosure log, oldest first.
  std::vector<v1::LogEntry> AdminEntries();

  Deployment deployment_;
  Credentials admin_, health_, social_, auditor_;
  std::unique_ptr<BrokerProcess> broker_;
};

}  // namespace liaison::testing

#endif  // LIAISON_TESTS_COMMON_ADMIN_FIXTURE_H_

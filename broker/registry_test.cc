#include "broker/registry.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "broker/store/sqlite/sqlite_store.h"
#include "broker/store/sqlite/sqlite_testing.h"

namespace liaison {
namespace {

std::unique_ptr<SqliteStore> NewStore() {
  std::string dir = ::testing::TempDir() + "/registryXXXXXX";
  EXPECT_NE(mkdtemp(dir.data()), nullptr);
  auto store = SqliteStore::Open(TestStoreOptions(dir + "/liaison.db"));
  EXPECT_TRUE(store.ok()) << store.status();
  return *std::move(store);
}

v1::RegistrySeed DemoSeed() {
  v1::RegistrySeed seed;
  v1::Agency* a = seed.add_agencies();
  a->set_id("malmo-school");
  a->set_sector("education");
  v1::Agency* b = seed.add_agencies();
  b->set_id("malmo-sc");
  b->set_sector("social_care");
  v1::Auditor* auditor = seed.add_auditors();
  auditor->set_id("dpo");
  auditor->set_scope("jurisdiction:se");
  return seed;
}

TEST(Registry, SeedAddsThenLeavesExistingAgenciesAlone) {
  auto store = NewStore();
  Registry registry(store.get());
  ASSERT_TRUE(registry.Load().ok());
  auto first = registry.ApplySeed(DemoSeed());
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->agencies_added, 2);
  ASSERT_TRUE(registry.FindAgency("malmo-sc").has_value());
  EXPECT_EQ(registry.FindAgency("malmo-sc")->status(),
            v1::AGENCY_STATUS_ACTIVE);
  EXPECT_EQ(registry.FindAuditor("dpo")->scope(), "jurisdiction:se");

  // An administrator suspends an agency; a restart with the same seed must
  // not reactivate it.
  ASSERT_TRUE(store
                  ->SetAgencyStatus("malmo-sc", v1::AGENCY_STATUS_SUSPENDED,
                                    "under review")
                  .ok());
  Registry restarted(store.get());
  ASSERT_TRUE(restarted.Load().ok());
  auto second = restarted.ApplySeed(DemoSeed());
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->agencies_added, 0);
  EXPECT_EQ(second->agencies_kept, 2);
  EXPECT_EQ(restarted.FindAgency("malmo-sc")->status(),
            v1::AGENCY_STATUS_SUSPENDED);
}

TEST(Registry, InvalidSeedWritesNothing) {
  struct Case {
    const char* name;
    std::function<void(v1::RegistrySeed*)> spoil;
    const char* expected;
  };
  const Case cases[] = {
      {"bad sector",
       [](v1::RegistrySeed* s) {
         s->mutable_agencies(1)->set_sector("Social Care");
       },
       "sector"},
      {"duplicate",
       [](v1::RegistrySeed* s) { *s->add_agencies() = s->agencies(0); },
       "listed twice"},
      {"bad id",
       [](v1::RegistrySeed* s) { s->mutable_agencies(0)->set_id("a b"); },
       "may contain only"},
      {"bad scope",
       [](v1::RegistrySeed* s) {
         s->mutable_auditors(0)->set_scope("everything");
       },
       "scope"},
  };
  for (const Case& c : cases) {
    auto store = NewStore();
    Registry registry(store.get());
    ASSERT_TRUE(registry.Load().ok());
    v1::RegistrySeed seed = DemoSeed();
    c.spoil(&seed);
    auto result = registry.ApplySeed(seed);
    ASSERT_FALSE(result.ok()) << c.name;
    EXPECT_NE(result.status().message().find(c.expected), std::string::npos)
        << c.name << ": " << result.status().message();
    EXPECT_TRUE(store->ListAgencies()->empty()) << c.name;
    EXPECT_TRUE(store->ListAuditors()->empty()) << c.name;
    EXPECT_FALSE(registry.FindAgency("malmo-school").has_value()) << c.name;
  }
}

v1::LogEntry AdminEntryFor(const std::string& admin) {
  v1::LogEntry e;
  e.set_actor("liaison://admin/" + admin);
  return e;
}

// Administrators' changes answer through a callback: many at once, from
// several threads, each planned on the snapshot the change before left, so
// no bind is lost to another's read-modify-write, and each is logged once.
TEST(Registry, ConcurrentChangesTakeTurnsAndLoseNothing) {
  auto store = NewStore();
  Registry registry(store.get());
  ASSERT_TRUE(registry.Load().ok());
  ASSERT_TRUE(registry.ApplySeed(DemoSeed()).ok());
  constexpr int kBinds = 40;
  absl::BlockingCounter answered(kBinds);
  absl::Mutex mu;
  std::vector<absl::Status> errors;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = t; i < kBinds; i += 4) {
        registry.Bind("malmo-sc", absl::StrCat("0A", 10 + i), /*bind=*/true,
                      AdminEntryFor("ops"),
                      [&](absl::StatusOr<v1::Agency> agency) {
                        if (!agency.ok()) {
                          absl::MutexLock lock(&mu);
                          errors.push_back(agency.status());
                        }
                        answered.DecrementCount();
                      });
      }
    });
  }
  for (std::thread& t : threads) t.join();
  answered.Wait();
  EXPECT_TRUE(errors.empty()) << errors.front();
  EXPECT_EQ(registry.FindAgency("malmo-sc")->certificate_serials_size(),
            kBinds);
  // The store holds what the snapshot says, and one ADMIN entry per bind.
  Registry reloaded(store.get());
  ASSERT_TRUE(reloaded.Load().ok());
  EXPECT_EQ(reloaded.FindAgency("malmo-sc")->certificate_serials_size(),
            kBinds);
  absl::Notification read;
  store->ReadLog(LogQuery{}, [&](absl::StatusOr<LogPage> page) {
    ASSERT_TRUE(page.ok()) << page.status();
    EXPECT_EQ(page->entries.size(), static_cast<size_t>(kBinds));
    for (const LoggedEntry& e : page->entries) {
      EXPECT_EQ(e.entry.admin_action(), "bind_certificate");
    }
    read.Notify();
  });
  read.WaitForNotification();
}

TEST(Registry, ARefusedChangeAnswersAndLetsTheNextOneThrough) {
  auto store = NewStore();
  Registry registry(store.get());
  ASSERT_TRUE(registry.Load().ok());
  ASSERT_TRUE(registry.ApplySeed(DemoSeed()).ok());
  absl::Notification refused, suspended;
  registry.SetStatus(
      "nobody", v1::AGENCY_STATUS_SUSPENDED, "review", AdminEntryFor("ops"),
      [&](absl::StatusOr<v1::Agency> agency) {
        EXPECT_EQ(agency.status().code(), absl::StatusCode::kNotFound);
        refused.Notify();
      });
  registry.SetStatus("malmo-sc", v1::AGENCY_STATUS_SUSPENDED, "review",
                     AdminEntryFor("ops"),
                     [&](absl::StatusOr<v1::Agency> agency) {
                       ASSERT_TRUE(agency.ok()) << agency.status();
                       EXPECT_EQ(agency->status(), v1::AGENCY_STATUS_SUSPENDED);
                       suspended.Notify();
                     });
  refused.WaitForNotification();
  suspended.WaitForNotification();
  EXPECT_EQ(registry.FindAgency("malmo-sc")->status_reason(), "review");
}

}  // namespace
}  // namespace liaison

// For tests: options that open a SQLite store with the broker's own rules,
// as the broker opens it.
#ifndef LIAISON_BROKER_STORE_SQLITE_SQLITE_TESTING_H_
#define LIAISON_BROKER_STORE_SQLITE_SQLITE_TESTING_H_

#include <string>
#include <utility>

#include "broker/domain_rules.h"
#include "broker/store/sqlite/sqlite_store.h"

namespace liaison {

inline SqliteStoreOptions TestStoreOptions(std::string path) {
  SqliteStoreOptions options;
  options.path = std::move(path);
  options.rules = &BrokerRules();
  return options;
}

// SQL that takes a store back to before version 10, for tests that build
// an older store from a current one: the columns and indexes versions 10
// and 11 added.
inline constexpr char kUndoVersions10And11[] =
    "DROP INDEX inbox_acked_held; DROP INDEX inbox_expired_held; "
    "DROP INDEX referrals_held; DROP INDEX cases_closed; "
    "DROP INDEX summary_requests_held; "
    "ALTER TABLE inbox DROP COLUMN kind; "
    "ALTER TABLE inbox DROP COLUMN purged; "
    "ALTER TABLE referrals DROP COLUMN purged; "
    "ALTER TABLE summary_requests DROP COLUMN purged; "
    "ALTER TABLE consents DROP COLUMN ends_at; "
    "ALTER TABLE consents DROP COLUMN purged; "
    "ALTER TABLE override_deadlines DROP COLUMN purged; "
    "ALTER TABLE cases DROP COLUMN closed_at; "
    "ALTER TABLE cases DROP COLUMN outcome; "
    "ALTER TABLE case_agencies DROP COLUMN detached_at; "
    "ALTER TABLE case_agencies DROP COLUMN detach_reason;";

}  // namespace liaison

#endif  // LIAISON_BROKER_STORE_SQLITE_SQLITE_TESTING_H_

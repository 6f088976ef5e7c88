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

}  // namespace liaison

#endif  // LIAISON_BROKER_STORE_SQLITE_SQLITE_TESTING_H_

// The SQLite store's schema: its migrations, in order.
#ifndef LIAISON_BROKER_STORE_SQLITE_SQLITE_SCHEMA_H_
#define LIAISON_BROKER_STORE_SQLITE_SQLITE_SCHEMA_H_

namespace liaison::sqlite {

// Entry i moves the file from version i to version i + 1 (PRAGMA
// user_version) and is never edited once released: add a new entry.
extern const char* const kMigrations[];
extern const int kMigrationCount;
// The version whose migration creates the log's index; an older log is
// indexed and hashed then.
constexpr int kLogIndexVersion = 3;

}  // namespace liaison::sqlite

#endif  // LIAISON_BROKER_STORE_SQLITE_SQLITE_SCHEMA_H_

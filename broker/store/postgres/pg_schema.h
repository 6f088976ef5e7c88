// The PostgreSQL store's schema and its migrations, versioned like the
// SQLite store's: entry i moves the database from version i to i + 1 and
// is never edited once released; add a new entry.
#ifndef LIAISON_BROKER_STORE_POSTGRES_PG_SCHEMA_H_
#define LIAISON_BROKER_STORE_POSTGRES_PG_SCHEMA_H_

#include "absl/status/statusor.h"
#include "broker/store/postgres/pg_connection.h"

namespace liaison::pg {

// The highest schema version this build knows.
int LatestSchemaVersion();

// Applies every migration the database has not seen, each in its own
// transaction, under an advisory lock so brokers starting together do not
// race; returns the version reached. A database written by a newer broker
// is refused with FAILED_PRECONDITION.
absl::StatusOr<int> Migrate(Connection& connection);

}  // namespace liaison::pg

#endif  // LIAISON_BROKER_STORE_POSTGRES_PG_SCHEMA_H_

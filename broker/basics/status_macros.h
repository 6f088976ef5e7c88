// RETURN_IF_ERROR / ASSIGN_OR_RETURN for the Abseil on Debian 12, which lacks
// them. Use only inside functions returning absl::Status or absl::StatusOr.
#ifndef LIAISON_BROKER_BASICS_STATUS_MACROS_H_
#define LIAISON_BROKER_BASICS_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define LIAISON_CONCAT_INNER_(a, b) a##b
#define LIAISON_CONCAT_(a, b) LIAISON_CONCAT_INNER_(a, b)

#define RETURN_IF_ERROR(expr)                          \
  do {                                                 \
    ::absl::Status liaison_status_ = (expr);           \
    if (!liaison_status_.ok()) return liaison_status_; \
  } while (0)

#define ASSIGN_OR_RETURN(lhs, expr)                                         \
  ASSIGN_OR_RETURN_IMPL_(LIAISON_CONCAT_(liaison_statusor_, __LINE__), lhs, \
                         expr)

#define ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                           \
  if (!tmp.ok()) return tmp.status();          \
  lhs = std::move(tmp).value()

#endif  // LIAISON_BROKER_BASICS_STATUS_MACROS_H_

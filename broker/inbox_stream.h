// Receive's stream of one agency's inbox.
#ifndef LIAISON_BROKER_INBOX_STREAM_H_
#define LIAISON_BROKER_INBOX_STREAM_H_

#include <grpcpp/grpcpp.h>

#include <functional>

#include "absl/time/time.h"
#include "broker/basics/clock.h"
#include "broker/identity.h"
#include "broker/inbox_waiters.h"
#include "broker/store/store.h"
#include "liaison/v1/exchange.pb.h"

namespace liaison {

// Streams the inbox of `principal`, the agency as Receive authorised it,
// leasing messages for `lease`: leases pending messages from the store,
// writes them one at a time, and when none is left waits to be woken by a
// new message or the end of a lease. `egress` finishes each leased message
// for the recipient before it is written. gRPC owns the reactor returned.
grpc::ServerWriteReactor<v1::InboxMessage>* NewInboxStream(
    grpc::CallbackServerContext* ctx, const v1::Principal& principal,
    absl::Duration lease, const Authenticator* auth, Store* store,
    InboxWaiters* waiters, const Clock* clock,
    std::function<void(v1::InboxMessage*)> egress);

}  // namespace liaison

#endif  // LIAISON_BROKER_INBOX_STREAM_H_

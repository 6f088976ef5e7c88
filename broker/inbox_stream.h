// Receive's stream of one agency's inbox.
#ifndef LIAISON_BROKER_INBOX_STREAM_H_
#define LIAISON_BROKER_INBOX_STREAM_H_

#include <grpcpp/grpcpp.h>

#include <functional>
#include <string>

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

// Leases a Deliver stream may ask for: `default_lease` when it asks for
// none, at most `max`.
struct DeliverLeases {
  absl::Duration default_lease;
  absl::Duration max;
};

// Acknowledges one message of the stream's agency, as Ack does, and calls
// back with the result once it is durable (or refused).
using Acknowledger = std::function<void(
    const std::string& message_id, std::function<void(absl::Status)> done)>;

// Streams the inbox as NewInboxStream does, once the stream's first
// request has set the lease, and acknowledges the ids the caller sends on
// the same stream through `acknowledge`. gRPC owns the reactor returned.
grpc::ServerBidiReactor<v1::DeliverRequest, v1::DeliverResponse>*
NewDeliverStream(grpc::CallbackServerContext* ctx,
                 const v1::Principal& principal, DeliverLeases leases,
                 const Authenticator* auth, Store* store, InboxWaiters* waiters,
                 const Clock* clock,
                 std::function<void(v1::InboxMessage*)> egress,
                 Acknowledger acknowledge);

}  // namespace liaison

#endif  // LIAISON_BROKER_INBOX_STREAM_H_

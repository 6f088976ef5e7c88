// Conformance of the registry, seen certificates, cases and durability
// (store.h). Instantiated by each backend's conformance test.
#ifndef LIAISON_BROKER_STORE_STORE_CONFORMANCE_REGISTRY_H_
#define LIAISON_BROKER_STORE_STORE_CONFORMANCE_REGISTRY_H_

#include <gmock/gmock.h>

#include <algorithm>
#include <string>
#include <vector>

#include "broker/store/store_conformance.h"

namespace liaison::conformance {

// An agency as bytes to compare, its bindings in a fixed order: store.h
// does not order them.
inline std::string AgencyBytes(v1::Agency a) {
  std::vector<std::string> serials(a.certificate_serials().begin(),
                                   a.certificate_serials().end());
  std::sort(serials.begin(), serials.end());
  a.clear_certificate_serials();
  for (const std::string& s : serials) a.add_certificate_serials(s);
  return a.SerializeAsString();
}

template <typename Factory>
class StoreRegistryConformance : public StoreConformance<Factory> {};
TYPED_TEST_SUITE_P(StoreRegistryConformance);

TYPED_TEST_P(StoreRegistryConformance,
             UpsertAgencyInsertsThenReplacesEveryField) {
  v1::Agency first = Agency(kClinic, "malmo");
  first.add_certificate_serials("0B01");
  ASSERT_TRUE(this->store().UpsertAgency(first).ok());
  absl::StatusOr<std::vector<v1::Agency>> listed = this->store().ListAgencies();
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ(AgencyBytes((*listed)[0]), AgencyBytes(first));

  // Replacing drops a binding the new version lacks and adds its new one.
  v1::Agency second = Agency(kClinic, "lund");
  second.set_display_name("Lund clinic");
  second.set_public_authority(false);
  second.set_status(v1::AGENCY_STATUS_SUSPENDED);
  second.set_status_reason("moved");
  second.clear_certificate_serials();
  second.add_certificate_serials("0C02");
  ASSERT_TRUE(this->store().UpsertAgency(second).ok());
  listed = this->store().ListAgencies();
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ(AgencyBytes((*listed)[0]), AgencyBytes(second));
}

TYPED_TEST_P(StoreRegistryConformance,
             SetAgencyStatusOfUnknownAgencyIsNotFound) {
  ASSERT_TRUE(this->store().UpsertAgency(Agency(kClinic, "malmo")).ok());
  absl::Status s = this->store().SetAgencyStatus(
      "nobody", v1::AGENCY_STATUS_SUSPENDED, "audit");
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound) << s;
  absl::StatusOr<std::vector<v1::Agency>> listed = this->store().ListAgencies();
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].status(), v1::AGENCY_STATUS_ACTIVE);
}

TYPED_TEST_P(StoreRegistryConformance, SetAgencyStatusRecordsStatusAndReason) {
  ASSERT_TRUE(this->store().UpsertAgency(Agency(kClinic, "malmo")).ok());
  ASSERT_TRUE(this->store()
                  .SetAgencyStatus(kClinic, v1::AGENCY_STATUS_SUSPENDED,
                                   "audit pending")
                  .ok());
  absl::StatusOr<std::vector<v1::Agency>> listed = this->store().ListAgencies();
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].status(), v1::AGENCY_STATUS_SUSPENDED);
  EXPECT_EQ((*listed)[0].status_reason(), "audit pending");
}

TYPED_TEST_P(StoreRegistryConformance, UpsertAuditorInsertsOrReplacesById) {
  v1::Auditor a;
  a.set_id("dpo");
  a.set_scope("se");
  a.set_display_name("Data protection officer");
  ASSERT_TRUE(this->store().UpsertAuditor(a).ok());
  v1::Auditor b;
  b.set_id("ombud");
  b.set_scope("no");
  ASSERT_TRUE(this->store().UpsertAuditor(b).ok());
  a.set_scope("dk");
  ASSERT_TRUE(this->store().UpsertAuditor(a).ok());
  absl::StatusOr<std::vector<v1::Auditor>> listed =
      this->store().ListAuditors();
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), 2u);
  for (const v1::Auditor& x : *listed) {
    if (x.id() == "dpo") {
      EXPECT_EQ(x.SerializeAsString(), a.SerializeAsString());
    } else {
      EXPECT_EQ(x.SerializeAsString(), b.SerializeAsString());
    }
  }
}

TYPED_TEST_P(StoreRegistryConformance, RouteIsOneAgencyPerSectorAndArea) {
  ASSERT_TRUE(this->store().UpsertAgency(Agency(kSocial, "malmo")).ok());
  ASSERT_TRUE(this->store().UpsertAgency(Agency(kClinic, "malmo")).ok());
  ASSERT_TRUE(
      this->store().UpsertRoute(Route("social_care", "malmo", kSocial)).ok());
  ASSERT_TRUE(
      this->store().UpsertRoute(Route("health", "malmo", kClinic)).ok());
  // The same (sector, area) again replaces its agency.
  ASSERT_TRUE(
      this->store().UpsertRoute(Route("social_care", "malmo", kClinic)).ok());
  absl::StatusOr<std::vector<v1::Route>> routes = this->store().ListRoutes();
  ASSERT_TRUE(routes.ok()) << routes.status();
  ASSERT_EQ(routes->size(), 2u);
  for (const v1::Route& r : *routes) {
    EXPECT_EQ(r.area(), "malmo");
    EXPECT_EQ(r.agency_id(), kClinic) << r.sector();
  }
}

TYPED_TEST_P(StoreRegistryConformance,
             RegistryChangeAppliesAndAppendsItsEntryInOneCommit) {
  ASSERT_TRUE(this->Append(AdminEntry("reload_policy", this->Now())).ok());
  RegistryChange change;
  change.agency = Agency(kSocial, "malmo");
  change.agency_is_new = true;
  change.route = Route("social_care", "malmo", kSocial);
  change.entry = AdminEntry("register_agency", this->Now());
  absl::StatusOr<uint64_t> seq = this->CommitChange(change);
  ASSERT_TRUE(seq.ok()) << seq.status();
  EXPECT_EQ(*seq, 1u);
  absl::StatusOr<std::vector<v1::Agency>> agencies =
      this->store().ListAgencies();
  ASSERT_TRUE(agencies.ok());
  ASSERT_EQ(agencies->size(), 1u);
  EXPECT_EQ(AgencyBytes((*agencies)[0]), AgencyBytes(*change.agency));
  absl::StatusOr<std::vector<v1::Route>> routes = this->store().ListRoutes();
  ASSERT_TRUE(routes.ok());
  ASSERT_EQ(routes->size(), 1u);
  EXPECT_EQ((*routes)[0].agency_id(), kSocial);
  std::vector<LoggedEntry> log = this->Entries();
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[1].entry.sequence(), 1u);
  EXPECT_EQ(log[1].entry.admin_action(), "register_agency");
  EXPECT_TRUE(this->HeadCoversLog().ok()) << this->HeadCoversLog();

  // Removing the route is a change of its own.
  RegistryChange removal;
  removal.removed_route = Route("social_care", "malmo", "");
  removal.entry = AdminEntry("remove_route", this->Now());
  seq = this->CommitChange(removal);
  ASSERT_TRUE(seq.ok()) << seq.status();
  EXPECT_EQ(*seq, 2u);
  EXPECT_TRUE(this->store().ListRoutes()->empty());
}

TYPED_TEST_P(
    StoreRegistryConformance,
    RegistryChangeForAnExistingNewAgencyIsAlreadyExistsAndChangesNothing) {
  RegistryChange first;
  first.agency = Agency(kSocial, "malmo");
  first.agency_is_new = true;
  first.entry = AdminEntry("register_agency", this->Now());
  ASSERT_TRUE(this->CommitChange(first).ok());

  RegistryChange again = first;
  again.agency->set_display_name("an impostor");
  again.agency->add_certificate_serials("FFFF");
  again.route = Route("social_care", "malmo", kSocial);
  absl::StatusOr<uint64_t> seq = this->CommitChange(again);
  EXPECT_EQ(seq.status().code(), absl::StatusCode::kAlreadyExists)
      << seq.status();
  absl::StatusOr<std::vector<v1::Agency>> agencies =
      this->store().ListAgencies();
  ASSERT_TRUE(agencies.ok());
  ASSERT_EQ(agencies->size(), 1u);
  EXPECT_EQ(AgencyBytes((*agencies)[0]), AgencyBytes(*first.agency));
  EXPECT_TRUE(this->store().ListRoutes()->empty());
  EXPECT_EQ(this->LogSize(), 1u);
}

TYPED_TEST_P(
    StoreRegistryConformance,
    RegistryChangeRoutingToAnUnregisteredAgencyIsNotFoundAndChangesNothing) {
  RegistryChange change;
  change.agency = Agency(kClinic, "malmo");
  change.agency_is_new = true;
  change.route = Route("social_care", "malmo", "not-registered");
  change.entry = AdminEntry("set_route", this->Now());
  absl::StatusOr<uint64_t> seq = this->CommitChange(change);
  EXPECT_EQ(seq.status().code(), absl::StatusCode::kNotFound) << seq.status();
  // The agency applied before the route is undone with it.
  EXPECT_TRUE(this->store().ListAgencies()->empty());
  EXPECT_TRUE(this->store().ListRoutes()->empty());
  EXPECT_EQ(this->LogSize(), 0u);
}

TYPED_TEST_P(StoreRegistryConformance,
             RegistryChangeRemovingAMissingRouteIsNotFoundAndChangesNothing) {
  ASSERT_TRUE(this->store().UpsertAgency(Agency(kSocial, "malmo")).ok());
  ASSERT_TRUE(
      this->store().UpsertRoute(Route("social_care", "malmo", kSocial)).ok());
  RegistryChange change;
  change.agency = Agency(kSocial, "lund");
  change.removed_route = Route("social_care", "lund", "");
  change.entry = AdminEntry("remove_route", this->Now());
  absl::StatusOr<uint64_t> seq = this->CommitChange(change);
  EXPECT_EQ(seq.status().code(), absl::StatusCode::kNotFound) << seq.status();
  absl::StatusOr<std::vector<v1::Agency>> agencies =
      this->store().ListAgencies();
  ASSERT_TRUE(agencies.ok());
  ASSERT_EQ(agencies->size(), 1u);
  EXPECT_EQ((*agencies)[0].area(), "malmo");
  EXPECT_EQ(this->store().ListRoutes()->size(), 1u);
  EXPECT_EQ(this->LogSize(), 0u);
}

TYPED_TEST_P(StoreRegistryConformance,
             RememberedCertificateIsRefreshedNotDuplicated) {
  const absl::Time t = this->Now();
  SeenCertificate c{"0A1B", AgencyUri(kClinic), t + absl::Hours(24 * 90), t};
  ASSERT_TRUE(Await<bool>([&](auto done) {
                this->store().RememberCertificate(c, done);
              }).ok());
  c.last_seen = t + absl::Hours(1);
  ASSERT_TRUE(Await<bool>([&](auto done) {
                this->store().RememberCertificate(c, done);
              }).ok());
  absl::StatusOr<std::vector<SeenCertificate>> seen =
      Await<std::vector<SeenCertificate>>(
          [&](auto done) { this->store().SeenCertificatesValidAt(t, done); });
  ASSERT_TRUE(seen.ok()) << seen.status();
  ASSERT_EQ(seen->size(), 1u);
  EXPECT_EQ((*seen)[0].serial, "0A1B");
  EXPECT_EQ((*seen)[0].subject, AgencyUri(kClinic));
  EXPECT_EQ((*seen)[0].not_after, c.not_after);
  EXPECT_EQ((*seen)[0].last_seen, t + absl::Hours(1));
}

TYPED_TEST_P(StoreRegistryConformance,
             SeenCertificatesValidAtListsUnexpiredSoonestFirst) {
  const absl::Time t = this->Now();
  const std::vector<SeenCertificate> certificates = {
      {"0A", AgencyUri(kClinic), t + absl::Hours(300), t},
      {"0B", AgencyUri(kSchool), t - absl::Seconds(1), t},
      {"0C", AgencyUri(kSocial), t, t},
      {"0D", AgencyUri(kPolice), t + absl::Hours(2), t},
  };
  for (const SeenCertificate& c : certificates) {
    ASSERT_TRUE(Await<bool>([&](auto done) {
                  this->store().RememberCertificate(c, done);
                }).ok());
  }
  absl::StatusOr<std::vector<SeenCertificate>> seen =
      Await<std::vector<SeenCertificate>>(
          [&](auto done) { this->store().SeenCertificatesValidAt(t, done); });
  ASSERT_TRUE(seen.ok()) << seen.status();
  std::vector<std::string> serials;
  for (const SeenCertificate& c : *seen) serials.push_back(c.serial);
  // 0B expired a second before; 0C's not_after is not before `t`.
  EXPECT_EQ(serials, (std::vector<std::string>{"0C", "0D", "0A"}));
}

TYPED_TEST_P(StoreRegistryConformance, CaseIsVisibleOnlyToAttachedAgencies) {
  ASSERT_TRUE(this->Refer(Referral("1", kSchool, kSocial, this->Now())).ok());
  absl::StatusOr<v1::Case> seen = this->GetCase(kSchool, "case-1");
  ASSERT_TRUE(seen.ok()) << seen.status();
  EXPECT_EQ(seen->case_id(), "case-1");
  std::vector<std::string> attached;
  for (const v1::CaseAgency& a : seen->agencies()) {
    attached.push_back(a.agency_id());
  }
  EXPECT_THAT(attached, ::testing::UnorderedElementsAre(kSchool, kSocial));
  EXPECT_TRUE(this->GetCase(kSocial, "case-1").ok());
  EXPECT_EQ(this->GetCase(kPolice, "case-1").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(this->GetCase(kSchool, "case-2").status().code(),
            absl::StatusCode::kNotFound);
}

TYPED_TEST_P(StoreRegistryConformance,
             HandOverCaseIsForTheManagerToAnAttachedAgency) {
  ASSERT_TRUE(this->Refer(Referral("1", kSchool, kSocial, this->Now())).ok());
  absl::StatusOr<v1::Case> before = this->GetCase(kSchool, "case-1");
  ASSERT_TRUE(before.ok()) << before.status();
  const std::string manager = before->manager_agency_id();
  ASSERT_TRUE(manager == kSchool || manager == kSocial) << manager;
  const std::string other = manager == kSchool ? kSocial : kSchool;
  auto hand_over = [&](const std::string& by, const std::string& to) {
    v1::CaseHandover h;
    h.set_to_agency_id(to);
    h.set_note("moving");
    *h.mutable_at() = Stamp(this->Now());
    return Await<v1::Case>(
        [&](auto done) { this->store().HandOverCase(by, "case-1", h, done); });
  };
  EXPECT_EQ(hand_over(other, other).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(hand_over(manager, kPolice).status().code(),
            absl::StatusCode::kFailedPrecondition);
  absl::StatusOr<v1::Case> unchanged = this->GetCase(kSchool, "case-1");
  ASSERT_TRUE(unchanged.ok());
  EXPECT_EQ(unchanged->manager_agency_id(), manager);
  EXPECT_EQ(unchanged->handovers_size(), 0);

  absl::StatusOr<v1::Case> after = hand_over(manager, other);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->manager_agency_id(), other);
  ASSERT_EQ(after->handovers_size(), 1);
  EXPECT_EQ(after->handovers(0).to_agency_id(), other);
  EXPECT_EQ(this->GetCase(other, "case-1")->manager_agency_id(), other);
}

TYPED_TEST_P(StoreRegistryConformance, CommittedStateSurvivesReopening) {
  ASSERT_TRUE(this->store().UpsertAgency(Agency(kSocial, "malmo")).ok());
  NewReferral referral = Referral("1", kSchool, kSocial, this->Now());
  absl::StatusOr<v1::SendReferralResponse> sent = this->Refer(referral);
  ASSERT_TRUE(sent.ok()) << sent.status();
  ASSERT_TRUE(
      this->RecordConsent(Consent("c1", kSchool, kSubject, false, this->Now()))
          .ok());
  absl::StatusOr<v1::TreeHead> head = this->Head();
  ASSERT_TRUE(head.ok()) << head.status();

  this->Reopen();
  EXPECT_EQ(this->store().ListAgencies()->size(), 1u);
  absl::StatusOr<v1::Referral> stored = this->GetReferral(kSocial, "ref-1");
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(stored->status(), v1::REFERRAL_STATUS_SENT);
  EXPECT_TRUE(this->GetCase(kSchool, "case-1").ok());
  EXPECT_TRUE(Await<StoredConsent>([&](auto done) {
                this->store().GetConsent("c1", done);
              }).ok());
  std::vector<v1::InboxMessage> inbox = this->Inbox(kSocial);
  ASSERT_EQ(inbox.size(), 1u);
  EXPECT_EQ(inbox[0].message_id(), "msg-1");
  absl::StatusOr<v1::TreeHead> reopened = this->Head();
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_EQ(reopened->tree_size(), head->tree_size());
  EXPECT_EQ(reopened->root_hash(), head->root_hash());
  EXPECT_TRUE(this->HeadCoversLog().ok()) << this->HeadCoversLog();
  // The idempotency key is durable too: a retry writes nothing.
  referral.referral.set_referral_id("ref-retry");
  referral.delivery.set_message_id("msg-retry");
  absl::StatusOr<v1::SendReferralResponse> retry = this->Refer(referral);
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_EQ(retry->SerializeAsString(), sent->SerializeAsString());
  EXPECT_EQ(this->LogSize(), 2u);
}

REGISTER_TYPED_TEST_SUITE_P(
    StoreRegistryConformance, UpsertAgencyInsertsThenReplacesEveryField,
    SetAgencyStatusOfUnknownAgencyIsNotFound,
    SetAgencyStatusRecordsStatusAndReason, UpsertAuditorInsertsOrReplacesById,
    RouteIsOneAgencyPerSectorAndArea,
    RegistryChangeAppliesAndAppendsItsEntryInOneCommit,
    RegistryChangeForAnExistingNewAgencyIsAlreadyExistsAndChangesNothing,
    RegistryChangeRoutingToAnUnregisteredAgencyIsNotFoundAndChangesNothing,
    RegistryChangeRemovingAMissingRouteIsNotFoundAndChangesNothing,
    RememberedCertificateIsRefreshedNotDuplicated,
    SeenCertificatesValidAtListsUnexpiredSoonestFirst,
    CaseIsVisibleOnlyToAttachedAgencies,
    HandOverCaseIsForTheManagerToAnAttachedAgency,
    CommittedStateSurvivesReopening);

}  // namespace liaison::conformance

#endif  // LIAISON_BROKER_STORE_STORE_CONFORMANCE_REGISTRY_H_

// The disclosure boundary over the real broker (DESIGN.md rule 2): every
// byte an agency receives is reduced to the level agreed, not only the
// attached record. Each kind of message an agency can receive is sent at
// each level, and the bytes delivered are searched for what must not cross.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "liaison/v1/exchange.grpc.pb.h"
#include "tests/common/example_referral.h"
#include "tests/integration/harness.h"

namespace liaison::testing {
namespace {

constexpr char kRegistry[] = R"pb(
  agencies { id: "malmo-sc" sector: "social_care" area: "malmo" jurisdiction: "se" }
  agencies { id: "rosengard-school" sector: "education" area: "malmo" jurisdiction: "se" }
)pb";

// One route each way, with a statutory duty per level so one sender can
// reach each level in turn.
constexpr char kAgreements[] = R"pb(
  agreements {
    id: "school-to-social-care"
    from_sectors: "education"
    to_sectors: "social_care"
    purposes: "child_welfare"
    consent_max_level: LEVEL_CATEGORY
    statutory_duties { id: "d-signal" legal_provision: "A 1" max_level: LEVEL_SIGNAL }
    statutory_duties { id: "d-category" legal_provision: "A 2" max_level: LEVEL_CATEGORY }
    statutory_duties { id: "d-summary" legal_provision: "A 3" max_level: LEVEL_SUMMARY }
    statutory_duties { id: "d-full" legal_provision: "A 4" max_level: LEVEL_FULL }
    valid_from: "2026-01-01"
  }
  agreements {
    id: "social-care-to-school"
    from_sectors: "social_care"
    to_sectors: "education"
    purposes: "child_welfare"
    purposes: "referral_feedback"
    consent_max_level: LEVEL_CATEGORY
    statutory_duties { id: "d-signal" legal_provision: "B 1" max_level: LEVEL_SIGNAL }
    statutory_duties { id: "d-category" legal_provision: "B 2" max_level: LEVEL_CATEGORY }
    statutory_duties { id: "d-summary" legal_provision: "B 3" max_level: LEVEL_SUMMARY }
    valid_from: "2026-01-01"
  }
)pb";

constexpr char kSubject[] = "20110304-1234";
constexpr char kBirthDate[] = "2011-03-04";
constexpr char kAction[] = "ACTION-visit the family before Friday";
constexpr char kDetail[] = "DETAIL-the mother declined support";
constexpr char kProfessional[] = "PRO-t-42";

bool Contains(const google::protobuf::Message& m, const std::string& text) {
  return m.SerializeAsString().find(text) != std::string::npos;
}

std::map<std::string, v1::FieldOutcome::Treatment> Treatments(
    const v1::EnvelopeOutcome& e) {
  std::map<std::string, v1::FieldOutcome::Treatment> out;
  for (const v1::FieldOutcome& o : e.fields()) out[o.field()] = o.treatment();
  return out;
}

class EnvelopeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    deployment_.WriteRegistry(kRegistry);
    deployment_.WritePolicyFile("agreements.textproto", kAgreements);
    school_ = deployment_.Issue(
        {"agency", "--sector=education", "--id=rosengard-school"});
    social_ =
        deployment_.Issue({"agency", "--sector=social_care", "--id=malmo-sc"});
  }

  void Start() {
    broker_ = std::make_unique<BrokerProcess>(
        deployment_, std::vector<std::string>{"--shutdown_grace_seconds=1"});
    ASSERT_GT(broker_->port(), 0) << broker_->Output();
  }

  // Rewrites the broker's envelope rules with `replacements` applied.
  void EditEnvelopes(
      const std::vector<std::pair<std::string, std::string>>& replacements) {
    const std::string path = deployment_.policy_dir() + "/envelopes.textproto";
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    std::string edited = text.str();
    for (const auto& [from, to] : replacements) {
      ASSERT_NE(edited.find(from), std::string::npos) << from;
      edited = absl::StrReplaceAll(edited, {{from, to}});
    }
    deployment_.WritePolicyFile("envelopes.textproto", edited);
  }

  std::unique_ptr<v1::Exchange::Stub> Stub(const Credentials& c) {
    return v1::Exchange::NewStub(
        ChannelFor(*broker_, deployment_.ca_cert(), c));
  }

  v1::SendReferralResponse Send(const std::string& key,
                                const std::string& duty) {
    v1::SendReferralRequest r = SchoolAbsenceReferral("malmo-sc", kSubject);
    r.set_idempotency_key(key);
    r.mutable_subject()->set_birth_date(kBirthDate);
    r.set_urgency(v1::URGENCY_WITHIN_24H);
    r.set_requested_action(kAction);
    r.mutable_record()->mutable_education()->mutable_subject()->set_identifier(
        kSubject);
    r.mutable_basis()->set_statutory_duty(duty);
    grpc::ClientContext ctx;
    ctx.AddMetadata("liaison-professional-id", kProfessional);
    v1::SendReferralResponse resp;
    grpc::Status s = Stub(school_)->SendReferral(&ctx, r, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp;
  }

  // Reads `n` messages from the inbox and acknowledges each.
  std::vector<v1::InboxMessage> Drain(const Credentials& c, size_t n) {
    InboxRead how;
    how.wait = absl::Seconds(20);
    how.acknowledge = true;
    how.professional_id = kProfessional;
    return ReadInbox(ChannelFor(*broker_, deployment_.ca_cert(), c), n, how);
  }

  Deployment deployment_;
  Credentials school_, social_;
  std::unique_ptr<BrokerProcess> broker_;
};

TEST_F(EnvelopeTest, AReferralCrossesWholeAtItsLevel) {
  Start();
  struct Case {
    std::string duty;
    v1::Level level;
    bool birth_date, concerns, action, professional;
  } cases[] = {
      {"d-signal", v1::LEVEL_SIGNAL, false, false, false, false},
      {"d-category", v1::LEVEL_CATEGORY, false, true, false, false},
      {"d-summary", v1::LEVEL_SUMMARY, true, true, true, true},
      {"d-full", v1::LEVEL_FULL, true, true, true, true},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.duty);
    const v1::SendReferralResponse sent = Send("k-" + c.duty, c.duty);
    ASSERT_EQ(sent.level(), c.level);
    const std::vector<v1::InboxMessage> inbox = Drain(social_, 1);
    ASSERT_EQ(inbox.size(), 1u);
    ASSERT_TRUE(inbox[0].has_referral());
    const v1::Referral& r = inbox[0].referral();
    EXPECT_EQ(r.referral_id(), sent.referral_id());
    // Whom to act for and how urgently cross at every level.
    EXPECT_EQ(r.subject().identifier(), kSubject);
    EXPECT_EQ(r.urgency(), v1::URGENCY_WITHIN_24H);
    // Everything else only from its level: searched in the bytes
    // delivered, not only in the fields read.
    EXPECT_EQ(Contains(inbox[0], kBirthDate), c.birth_date);
    EXPECT_EQ(Contains(inbox[0], kAction), c.action);
    EXPECT_EQ(Contains(inbox[0], kProfessional), c.professional);
    EXPECT_EQ(r.concerns_size() > 0, c.concerns);
    if (c.level == v1::LEVEL_CATEGORY) {
      // The age band, like the record's own subject at this level.
      EXPECT_FALSE(r.subject().birth_date().empty());
      EXPECT_NE(r.subject().birth_date(), kBirthDate);
      EXPECT_EQ(Treatments(r.envelope()).at("subject.birth_date"),
                v1::FieldOutcome::TREATMENT_GENERALISED);
    }
    EXPECT_EQ(r.envelope().level(), c.level);
    EXPECT_EQ(Treatments(r.envelope()).at("requested_action"),
              c.action ? v1::FieldOutcome::TREATMENT_KEPT
                       : v1::FieldOutcome::TREATMENT_WITHHELD);

    // GetReferral shows the recipient no more than its inbox did.
    grpc::ClientContext ctx;
    v1::GetReferralRequest req;
    req.set_referral_id(sent.referral_id());
    v1::Referral shown;
    ASSERT_TRUE(Stub(social_)->GetReferral(&ctx, req, &shown).ok());
    EXPECT_EQ(Contains(shown, kBirthDate), c.birth_date);
    EXPECT_EQ(Contains(shown, kAction), c.action);
    EXPECT_EQ(Contains(shown, kProfessional), c.professional);
  }
}

TEST_F(EnvelopeTest, AnAgreementsOwnRulesReplaceTheSetsOnItsRoute) {
  // On this route the birth date and the requested action never cross
  // below FULL; everything else follows the set's rules.
  std::string agreements = kAgreements;
  const std::string at = "    valid_from: \"2026-01-01\"\n  }";
  agreements.replace(agreements.find(at), at.size(), R"pb(    valid_from: "2026-01-01"
    envelopes {
      message: "referral"
      fields { field: "subject.birth_date" signal: DROP category: DROP summary: DROP }
      fields { field: "requested_action" signal: DROP category: DROP summary: DROP }
    }
  })pb");
  deployment_.WritePolicyFile("agreements.textproto", agreements);
  Start();
  const v1::SendReferralResponse sent = Send("own-rules", "d-summary");
  ASSERT_EQ(sent.level(), v1::LEVEL_SUMMARY);
  const std::vector<v1::InboxMessage> inbox = Drain(social_, 1);
  ASSERT_EQ(inbox.size(), 1u);
  EXPECT_FALSE(Contains(inbox[0], kBirthDate));
  EXPECT_FALSE(Contains(inbox[0], kAction));
  // The set's rules still give the rest at SUMMARY.
  EXPECT_TRUE(Contains(inbox[0], kProfessional));
  EXPECT_EQ(inbox[0].referral().concerns_size(), 1);
  EXPECT_EQ(Treatments(inbox[0].referral().envelope()).at("requested_action"),
            v1::FieldOutcome::TREATMENT_WITHHELD);
}

TEST_F(EnvelopeTest, FeedbackCrossesAtTheReverseRoutesLevel) {
  Start();
  struct Case {
    std::string duty;
    bool detail, professional;
  } cases[] = {
      {"d-signal", false, false},
      {"d-category", true, false},
      {"d-summary", true, true},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.duty);
    const v1::SendReferralResponse sent = Send("fb-" + c.duty, "d-summary");
    ASSERT_EQ(Drain(social_, 1).size(), 1u);
    grpc::ClientContext ctx;
    ctx.AddMetadata("liaison-professional-id", kProfessional);
    v1::UpdateReferralRequest req;
    req.set_referral_id(sent.referral_id());
    req.set_status(v1::REFERRAL_STATUS_DECLINED);
    req.set_detail(kDetail);
    req.mutable_basis()->set_statutory_duty(c.duty);
    v1::Referral changed;
    ASSERT_TRUE(Stub(social_)->UpdateReferral(&ctx, req, &changed).ok());

    // The receipt of delivery, then the change.
    const std::vector<v1::InboxMessage> told = Drain(school_, 2);
    ASSERT_EQ(told.size(), 2u);
    ASSERT_TRUE(told[0].has_referral_update());
    EXPECT_EQ(told[0].referral_update().status(),
              v1::REFERRAL_STATUS_DELIVERED);
    // Who acknowledged the message at the recipient is not the referrer's
    // to know.
    EXPECT_FALSE(Contains(told[0], kProfessional));
    ASSERT_TRUE(told[1].has_referral_update());
    EXPECT_EQ(told[1].referral_update().status(),
              v1::REFERRAL_STATUS_DECLINED);
    EXPECT_EQ(Contains(told[1], kDetail), c.detail);
    EXPECT_EQ(Contains(told[1], kProfessional), c.professional);

    // The referrer's own view of the history says the same.
    grpc::ClientContext get;
    v1::GetReferralRequest which;
    which.set_referral_id(sent.referral_id());
    v1::Referral shown;
    ASSERT_TRUE(Stub(school_)->GetReferral(&get, which, &shown).ok());
    EXPECT_EQ(Contains(shown, kDetail), c.detail);
  }
}

TEST_F(EnvelopeTest, ASummaryRequestReachesTheHolderAtItsLevel) {
  Start();
  const std::string consent = RecordConsentFromSubject(
      ChannelFor(*broker_, deployment_.ca_cert(), school_), kSubject);
  // The school asks social care; social care would answer at CATEGORY
  // (the consent's cap on that route), so the request crosses at CATEGORY.
  v1::RequestSummaryRequest r;
  r.set_idempotency_key("ask-1");
  r.mutable_holder()->set_agency_id("malmo-sc");
  r.mutable_subject()->set_identifier(kSubject);
  r.mutable_subject()->set_birth_date(kBirthDate);
  r.set_purpose("child_welfare");
  r.mutable_basis()->set_consent_id(consent);
  grpc::ClientContext ctx;
  v1::RequestSummaryResponse resp;
  grpc::Status s = Stub(school_)->RequestSummary(&ctx, r, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  const std::vector<v1::InboxMessage> inbox = Drain(social_, 1);
  ASSERT_EQ(inbox.size(), 1u);
  ASSERT_TRUE(inbox[0].has_summary_request());
  const v1::SummaryRequestReceived& got = inbox[0].summary_request();
  EXPECT_EQ(got.subject().identifier(), kSubject);
  EXPECT_FALSE(Contains(inbox[0], kBirthDate));
  EXPECT_FALSE(got.subject().birth_date().empty());
  EXPECT_EQ(got.basis().consent_id(), consent);
  EXPECT_EQ(got.envelope().level(), v1::LEVEL_CATEGORY);

  // The answer is a summary: its record reduced by the record rules, its
  // envelope by the summary's.
  v1::AnswerSummaryRequestRequest answer;
  answer.set_request_id(got.request_id());
  v1::SocialCareRecord* rec = answer.mutable_record()->mutable_social_care();
  rec->mutable_subject()->set_identifier(kSubject);
  rec->mutable_subject()->set_birth_date(kBirthDate);
  rec->set_case_notes("NOTES-private");
  rec->set_involvement_type("family support");
  grpc::ClientContext actx;
  v1::AnswerSummaryRequestResponse aresp;
  s = Stub(social_)->AnswerSummaryRequest(&actx, answer, &aresp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  const std::vector<v1::InboxMessage> answered = Drain(school_, 1);
  ASSERT_EQ(answered.size(), 1u);
  ASSERT_TRUE(answered[0].has_summary());
  EXPECT_FALSE(Contains(answered[0], kBirthDate));
  EXPECT_FALSE(Contains(answered[0], "NOTES-private"));
  EXPECT_EQ(answered[0].summary().envelope().level(), v1::LEVEL_CATEGORY);
}

TEST_F(EnvelopeTest, RequestsAndSummariesCrossAtEachLevel) {
  Start();
  // A referral opens a case the school and social care are attached to;
  // the school then asks social care on that case, under each duty.
  const v1::SendReferralResponse opened = Send("case-for-asks", "d-summary");
  ASSERT_EQ(Drain(social_, 1).size(), 1u);
  struct Case {
    std::string duty;
    v1::Level level;
    bool birth_date;
  } cases[] = {
      {"d-signal", v1::LEVEL_SIGNAL, false},
      {"d-category", v1::LEVEL_CATEGORY, false},
      {"d-summary", v1::LEVEL_SUMMARY, true},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.duty);
    v1::RequestSummaryRequest r;
    r.set_idempotency_key("ask-" + c.duty);
    r.mutable_holder()->set_agency_id("malmo-sc");
    r.mutable_subject()->set_identifier(kSubject);
    r.mutable_subject()->set_birth_date(kBirthDate);
    r.set_case_id(opened.case_id());
    r.set_purpose("child_welfare");
    r.mutable_basis()->set_statutory_duty(c.duty);
    grpc::ClientContext ctx;
    v1::RequestSummaryResponse resp;
    grpc::Status s = Stub(school_)->RequestSummary(&ctx, r, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    std::vector<v1::InboxMessage> asked = Drain(social_, 1);
    ASSERT_EQ(asked.size(), 1u);
    ASSERT_TRUE(asked[0].has_summary_request());
    EXPECT_EQ(asked[0].summary_request().envelope().level(), c.level);
    EXPECT_EQ(asked[0].summary_request().subject().identifier(), kSubject);
    EXPECT_EQ(Contains(asked[0], kBirthDate), c.birth_date);

    v1::AnswerSummaryRequestRequest answer;
    answer.set_request_id(resp.request_id());
    v1::SocialCareRecord* rec = answer.mutable_record()->mutable_social_care();
    rec->mutable_subject()->set_identifier(kSubject);
    rec->mutable_subject()->set_birth_date(kBirthDate);
    rec->set_involvement_type("INVOLVEMENT-family support");
    rec->set_planned_measures("MEASURES-weekly home visits");
    rec->set_case_notes("NOTES-private");
    grpc::ClientContext actx;
    v1::AnswerSummaryRequestResponse aresp;
    s = Stub(social_)->AnswerSummaryRequest(&actx, answer, &aresp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(aresp.level(), c.level);
    // Before the first summary, the school's inbox holds the referral's
    // delivery receipt.
    std::vector<v1::InboxMessage> got =
        Drain(school_, c.level == v1::LEVEL_SIGNAL ? 2 : 1);
    got.erase(std::remove_if(got.begin(), got.end(),
                             [](const v1::InboxMessage& m) {
                               return !m.has_summary();
                             }),
              got.end());
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].summary().envelope().level(), c.level);
    EXPECT_EQ(got[0].summary().record().level(), c.level);
    // Each level gives what the record rules give it, and no more.
    EXPECT_FALSE(Contains(got[0], "NOTES-private"));
    EXPECT_EQ(Contains(got[0], "INVOLVEMENT-"), c.level >= v1::LEVEL_CATEGORY);
    EXPECT_EQ(Contains(got[0], "MEASURES-"), c.level >= v1::LEVEL_SUMMARY);
    EXPECT_EQ(Contains(got[0], kBirthDate), c.birth_date);
  }
}

TEST_F(EnvelopeTest, NoticesCasesAndConsentsAreShownAtTheirViewLevels) {
  // Lower every view level below what the defaults give, so each rule is
  // seen withholding: the notice text, the handover note and its author,
  // the consent's relation and evidence.
  EditEnvelopes({
      {"message: \"notice\"\n  view_level: LEVEL_SIGNAL\n  fields { field: "
       "\"text\" signal: KEEP",
       "message: \"notice\"\n  view_level: LEVEL_SIGNAL\n  fields { field: "
       "\"text\" signal: DROP"},
      {"message: \"case\"\n  view_level: LEVEL_SUMMARY",
       "message: \"case\"\n  view_level: LEVEL_CATEGORY"},
      {"message: \"consent\"\n  view_level: LEVEL_CATEGORY",
       "message: \"consent\"\n  view_level: LEVEL_SIGNAL"},
  });
  Start();

  // A consent recorded by the school naming social care.
  v1::RecordConsentRequest rc;
  v1::Consent* c = rc.mutable_consent();
  c->set_grantor(v1::GRANTOR_GUARDIAN);
  c->set_grantor_relation("RELATION-aunt");
  c->mutable_subject()->set_identifier(kSubject);
  c->mutable_subject()->set_birth_date(kBirthDate);
  c->add_disclosing()->set_sector("education");
  c->add_recipients()->set_agency_id("malmo-sc");
  c->add_purposes("child_welfare");
  c->set_max_level(v1::LEVEL_CATEGORY);
  c->mutable_evidence()->set_form_reference("FORM-REF-99");
  c->mutable_evidence()->set_form_version("v1");
  c->mutable_evidence()->set_language("sv");
  grpc::ClientContext rctx;
  v1::Consent recorded;
  grpc::Status s = Stub(school_)->RecordConsent(&rctx, rc, &recorded);
  ASSERT_TRUE(s.ok()) << s.error_message();
  v1::GetConsentRequest gc;
  gc.set_consent_id(recorded.consent_id());
  v1::Consent own, party;
  grpc::ClientContext g1, g2;
  ASSERT_TRUE(Stub(school_)->GetConsent(&g1, gc, &own).ok());
  ASSERT_TRUE(Stub(social_)->GetConsent(&g2, gc, &party).ok());
  // The recorder sees it as recorded; the party at the view level.
  EXPECT_TRUE(Contains(own, "FORM-REF-99"));
  EXPECT_TRUE(Contains(own, "RELATION-aunt"));
  EXPECT_TRUE(Contains(own, kBirthDate));
  EXPECT_FALSE(Contains(party, "FORM-REF-99"));
  EXPECT_FALSE(Contains(party, "RELATION-aunt"));
  EXPECT_FALSE(Contains(party, kBirthDate));
  EXPECT_EQ(party.subject().identifier(), kSubject);
  EXPECT_EQ(party.max_level(), v1::LEVEL_CATEGORY);
  EXPECT_EQ(party.envelope().level(), v1::LEVEL_SIGNAL);

  // A referral under it, then the case handed over with a note.
  v1::SendReferralResponse sent = Send("case-1", "d-summary");
  ASSERT_EQ(Drain(social_, 1).size(), 1u);
  grpc::ClientContext hctx;
  hctx.AddMetadata("liaison-professional-id", kProfessional);
  v1::HandOverCaseRequest h;
  h.set_case_id(sent.case_id());
  h.set_to_agency_id("rosengard-school");
  h.set_note("NOTE-handover to the school's welfare team");
  v1::Case handed;
  s = Stub(social_)->HandOverCase(&hctx, h, &handed);
  ASSERT_TRUE(s.ok()) << s.error_message();
  // The handover's own answer is the same view as GetCase.
  EXPECT_FALSE(Contains(handed, "NOTE-handover"));
  EXPECT_EQ(handed.envelope().level(), v1::LEVEL_CATEGORY);
  grpc::ClientContext cctx;
  v1::GetCaseRequest gcase;
  gcase.set_case_id(sent.case_id());
  v1::Case shown;
  ASSERT_TRUE(Stub(school_)->GetCase(&cctx, gcase, &shown).ok());
  EXPECT_EQ(shown.manager_agency_id(), "rosengard-school");
  ASSERT_EQ(shown.handovers_size(), 1);
  EXPECT_EQ(shown.handovers(0).to_agency_id(), "rosengard-school");
  EXPECT_FALSE(Contains(shown, "NOTE-handover"));
  EXPECT_FALSE(Contains(shown, kProfessional));
  EXPECT_EQ(shown.agencies_size(), 2);
  EXPECT_FALSE(shown.agencies(0).reason().empty());
  EXPECT_EQ(shown.envelope().level(), v1::LEVEL_CATEGORY);

  // Withdrawing a consent something was delivered under sends a recall
  // notice; here its text is withheld, and its ids still cross.
  v1::SendReferralRequest r;
  r.set_idempotency_key("under-consent");
  r.mutable_destination()->set_agency_id("malmo-sc");
  r.mutable_subject()->set_identifier(kSubject);
  r.set_purpose("child_welfare");
  r.add_concerns(v1::CONCERN_CATEGORY_SCHOOL_ABSENCE);
  r.set_urgency(v1::URGENCY_ROUTINE);
  r.mutable_record()->mutable_education()->mutable_subject()->set_identifier(
      kSubject);
  r.mutable_basis()->set_consent_id(recorded.consent_id());
  grpc::ClientContext sctx;
  v1::SendReferralResponse under_resp;
  s = Stub(school_)->SendReferral(&sctx, r, &under_resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  const std::vector<v1::InboxMessage> delivered = Drain(social_, 1);
  ASSERT_EQ(delivered.size(), 1u);
  grpc::ClientContext wctx;
  v1::WithdrawConsentRequest w;
  w.set_consent_id(recorded.consent_id());
  w.set_reason("REASON-withdrawn in writing");
  v1::Consent withdrawn;
  ASSERT_TRUE(Stub(school_)->WithdrawConsent(&wctx, w, &withdrawn).ok());
  const std::vector<v1::InboxMessage> recall = Drain(social_, 1);
  ASSERT_EQ(recall.size(), 1u);
  ASSERT_TRUE(recall[0].has_notice());
  EXPECT_EQ(recall[0].notice().kind(), v1::Notice::KIND_CONSENT_RECALL);
  EXPECT_EQ(recall[0].notice().text(), "");
  ASSERT_EQ(recall[0].notice().message_ids_size(), 1);
  EXPECT_EQ(recall[0].notice().message_ids(0), delivered[0].message_id());
  EXPECT_EQ(recall[0].notice().consent_id(), recorded.consent_id());
  // The withdrawal's reason stays with the recorder.
  v1::Consent after;
  grpc::ClientContext g3;
  ASSERT_TRUE(Stub(social_)->GetConsent(&g3, gc, &after).ok());
  EXPECT_TRUE(after.has_withdrawn_at());
  EXPECT_FALSE(Contains(after, "REASON-withdrawn"));
}

}  // namespace
}  // namespace liaison::testing

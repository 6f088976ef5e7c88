#include "tests/common/example_referral.h"

namespace liaison::testing {

v1::SendReferralRequest HealthReferral(const std::string& to,
                                       const std::string& subject,
                                       const std::string& birth_date,
                                       const std::string& consent_id,
                                       const std::string& notes) {
  v1::SendReferralRequest r;
  r.mutable_destination()->set_agency_id(to);
  r.mutable_subject()->set_identifier(subject);
  r.mutable_subject()->set_birth_date(birth_date);
  r.set_purpose("child_welfare");
  r.add_concerns(v1::CONCERN_CATEGORY_SELF_HARM);
  r.set_urgency(v1::URGENCY_WITHIN_24H);
  v1::HealthRecord* h = r.mutable_record()->mutable_health();
  h->mutable_subject()->set_identifier(subject);
  h->mutable_subject()->set_birth_date(birth_date);
  h->mutable_address()->set_street("Amiralsgatan 17B");
  h->mutable_address()->set_postcode("214 37");
  h->mutable_address()->set_municipality("Malmo");
  h->add_diagnosis_codes("F32.1");
  h->set_clinician_notes(notes);
  h->set_active_involvement(true);
  h->mutable_contact_point()->set_name("CAMHS duty team");
  r.mutable_basis()->set_consent_id(consent_id);
  ConfirmChecklist(r.mutable_checklist());
  return r;
}

void ConfirmChecklist(v1::PreSharingChecklist* c) {
  c->set_concern_verified(true);
  c->set_person_informed(true);
  c->set_colleague_or_expert_consulted(true);
  c->set_manager_approved(true);
}

v1::SendReferralRequest SchoolAbsenceReferral(const std::string& to,
                                              const std::string& subject) {
  v1::SendReferralRequest r;
  r.mutable_destination()->set_agency_id(to);
  r.mutable_subject()->set_identifier(subject);
  r.set_purpose("child_welfare");
  r.add_concerns(v1::CONCERN_CATEGORY_SCHOOL_ABSENCE);
  r.set_urgency(v1::URGENCY_ROUTINE);
  r.mutable_record()->mutable_education()->set_school("Rosengard School");
  return r;
}

}  // namespace liaison::testing

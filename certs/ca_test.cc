#include "broker/basics/files.h"
#include "broker/basics/time_format.h"
#include "certs/ca.h"

#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "broker/basics/x509.h"
#include "certs/ca_testing.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace liaison::certs {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

struct StoreFree {
  void operator()(X509_STORE* p) const { X509_STORE_free(p); }
};
struct StoreCtxFree {
  void operator()(X509_STORE_CTX* p) const { X509_STORE_CTX_free(p); }
};

bool FileExists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

x509::CertPtr LoadCert(const std::string& path) {
  absl::StatusOr<x509::CertPtr> cert = x509::ReadCertificateFile(path);
  EXPECT_TRUE(cert.ok()) << cert.status();
  return cert.ok() ? std::move(*cert) : nullptr;
}

x509::CrlPtr ParseCrl(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  x509::CrlPtr crl(PEM_read_bio_X509_CRL(bio, nullptr, nullptr, nullptr));
  BIO_free(bio);
  return crl;
}

// X509_V_OK or the reason OpenSSL rejects `cert` as issued by `ca` for
// `purpose`, checking `crl` when given.
int Verify(const X509* cert, const X509* ca, X509_CRL* crl = nullptr,
           int purpose = X509_PURPOSE_SSL_CLIENT) {
  std::unique_ptr<X509_STORE, StoreFree> store(X509_STORE_new());
  X509_STORE_add_cert(store.get(), const_cast<X509*>(ca));
  if (crl != nullptr) {
    X509_STORE_add_crl(store.get(), crl);
    X509_STORE_set_flags(store.get(), X509_V_FLAG_CRL_CHECK);
  }
  std::unique_ptr<X509_STORE_CTX, StoreCtxFree> ctx(X509_STORE_CTX_new());
  X509_STORE_CTX_init(ctx.get(), store.get(), const_cast<X509*>(cert), nullptr);
  X509_STORE_CTX_set_purpose(ctx.get(), purpose);
  const int ok = X509_verify_cert(ctx.get());
  return ok == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx.get());
}

std::string GroupName(EVP_PKEY* key) {
  char group[80] = {};
  size_t len = 0;
  EVP_PKEY_get_group_name(key, group, sizeof group, &len);
  return std::string(group, len);
}


class CaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = MakeTempDir();
    dir_ = root_ + "/ca";
    absl::StatusOr<CertificateAuthority> ca = CertificateAuthority::Init(
        dir_, "Test CA", absl::Hours(24 * 3650), now_);
    ASSERT_TRUE(ca.ok()) << ca.status();
    ca_ = std::make_unique<CertificateAuthority>(std::move(*ca));
  }

  IssuedCertificate IssueAgency(const std::string& id) {
    absl::StatusOr<IssuedCertificate> issued =
        ca_->Issue(AgencySpec("health", id, now_), ca_->issued_dir());
    EXPECT_TRUE(issued.ok()) << issued.status();
    return issued.ok() ? *issued : IssuedCertificate{};
  }

  const absl::Time now_ = absl::FromTimeT(absl::ToTimeT(absl::Now()));
  std::string root_;
  std::string dir_;
  std::unique_ptr<CertificateAuthority> ca_;
};

TEST_F(CaTest, InitCreatesPrivateDirectoryAndSelfSignedCa) {
  EXPECT_EQ(FileMode(dir_), 0700);
  EXPECT_EQ(FileMode(dir_ + "/ca.key"), 0600);
  EXPECT_TRUE(FileExists(dir_ + "/ca.crt"));
  EXPECT_TRUE(FileExists(dir_ + "/index.tsv"));
  EXPECT_EQ(Contents(dir_ + "/crlnumber"), "1\n");
  EXPECT_EQ(FileMode(dir_ + "/issued"), 0700);

  x509::CertPtr cert = LoadCert(dir_ + "/ca.crt");
  ASSERT_NE(cert, nullptr);
  EXPECT_EQ(X509_get_version(cert.get()), X509_VERSION_3);
  EXPECT_EQ(X509_check_ca(cert.get()), 1);
  EXPECT_EQ(X509_get_key_usage(cert.get()), KU_KEY_CERT_SIGN | KU_CRL_SIGN);
  EXPECT_EQ(Verify(cert.get(), cert.get(), nullptr, X509_PURPOSE_ANY),
            X509_V_OK);
  EXPECT_THAT(x509::SubjectLine(cert.get()), HasSubstr("Test CA"));
  EXPECT_THAT(x509::SubjectLine(cert.get()), HasSubstr("Liaison"));
  EXPECT_EQ(x509::IssuerLine(cert.get()), x509::SubjectLine(cert.get()));
  EXPECT_EQ(DescribePublicKey(cert.get()), "EC P-256");
  EXPECT_EQ(X509_get_signature_nid(cert.get()), NID_ecdsa_with_SHA256);
  EXPECT_EQ(x509::NotBefore(cert.get()), now_);
  EXPECT_LE(absl::AbsDuration(x509::NotAfter(cert.get()) - now_ -
                              absl::Hours(24 * 3650)),
            absl::Seconds(1));

  absl::StatusOr<x509::KeyPtr> key = x509::ReadPrivateKeyFile(dir_ + "/ca.key");
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(X509_check_private_key(cert.get(), key->get()), 1);
  EXPECT_EQ(X509_cmp(cert.get(), ca_->ca_certificate()), 0);
  EXPECT_EQ(EVP_PKEY_eq(key->get(), ca_->ca_key()), 1);
}

TEST_F(CaTest, InitRefusesDirectoryThatHoldsCa) {
  const std::string before = Contents(dir_ + "/ca.crt");
  absl::StatusOr<CertificateAuthority> again =
      CertificateAuthority::Init(dir_, "Another CA", absl::Hours(24), now_);
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(again.status().message(), HasSubstr("already holds a CA"));
  EXPECT_EQ(Contents(dir_ + "/ca.crt"), before);
}

TEST(CaOpenTest, EmptyOrMissingDirectoryTellsToInit) {
  const std::string empty = MakeTempDir();
  absl::StatusOr<CertificateAuthority> ca = CertificateAuthority::Open(empty);
  EXPECT_EQ(ca.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(ca.status().message(), HasSubstr("liaison-certs"));
  EXPECT_THAT(ca.status().message(), HasSubstr("init"));

  ca = CertificateAuthority::Open(empty + "/missing");
  EXPECT_EQ(ca.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(ca.status().message(), HasSubstr("does not exist"));
}

TEST_F(CaTest, IssuedAgencyCertificateVerifiesAndNamesItsPrincipal) {
  IssuedCertificate issued = IssueAgency("st-olavs");
  EXPECT_EQ(issued.cert_path, dir_ + "/issued/agency-st-olavs.crt");
  EXPECT_EQ(issued.key_path, dir_ + "/issued/agency-st-olavs.key");

  x509::CertPtr cert = LoadCert(issued.cert_path);
  ASSERT_NE(cert, nullptr);
  EXPECT_EQ(Verify(cert.get(), ca_->ca_certificate()), X509_V_OK);
  EXPECT_THAT(x509::UriSans(cert.get()),
              ElementsAre("liaison://agency/health/st-olavs"));
  EXPECT_TRUE(x509::DnsSans(cert.get()).empty());
  absl::StatusOr<PrincipalName> principal = CertificatePrincipal(cert.get());
  ASSERT_TRUE(principal.ok()) << principal.status();
  EXPECT_EQ(principal->sector, "health");
  EXPECT_EQ(principal->id, "st-olavs");

  EXPECT_EQ(x509::SerialHex(cert.get()), issued.serial);
  EXPECT_LE(issued.serial.size(), 32u);
  EXPECT_GE(issued.serial.size(), 20u);
  EXPECT_EQ(X509_get_version(cert.get()), X509_VERSION_3);
  EXPECT_EQ(X509_check_ca(cert.get()), 0);
  EXPECT_EQ(X509_get_signature_nid(cert.get()), NID_ecdsa_with_SHA256);
  EXPECT_EQ(X509_get_extended_key_usage(cert.get()), XKU_SSL_CLIENT);
  EXPECT_EQ(X509_get_key_usage(cert.get()), KU_DIGITAL_SIGNATURE);
  EXPECT_EQ(
      ASN1_OCTET_STRING_cmp(
          X509_get0_authority_key_id(cert.get()),
          X509_get0_subject_key_id(const_cast<X509*>(ca_->ca_certificate()))),
      0);
  EXPECT_NE(X509_get0_subject_key_id(cert.get()), nullptr);
  EXPECT_EQ(x509::IssuerLine(cert.get()),
            x509::SubjectLine(ca_->ca_certificate()));

  EXPECT_EQ(FileMode(issued.key_path), 0600);
  absl::StatusOr<x509::KeyPtr> key = x509::ReadPrivateKeyFile(issued.key_path);
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(X509_check_private_key(cert.get(), key->get()), 1);
  EXPECT_EQ(EVP_PKEY_get_base_id(key->get()), EVP_PKEY_EC);
  EXPECT_EQ(GroupName(key->get()), "prime256v1");
  EXPECT_EQ(DescribePublicKey(cert.get()), "EC P-256");

  EXPECT_EQ(x509::NotBefore(cert.get()), now_);
  EXPECT_LE(absl::AbsDuration(x509::NotAfter(cert.get()) - now_ -
                              absl::Hours(24 * 365)),
            absl::Seconds(1));
  EXPECT_EQ(issued.not_after, x509::NotAfter(cert.get()));
}

TEST_F(CaTest, ServerCertificateCarriesAddressesAndBothUsages) {
  IssueSpec spec;
  spec.common_name = "broker-1";
  spec.uri_sans = {"liaison://broker/broker-1"};
  spec.dns_sans = {"localhost", "broker.example.org"};
  spec.ip_sans = {"127.0.0.1", "::1"};
  spec.not_before = now_;
  spec.validity = absl::Hours(24);
  spec.server_auth = true;
  spec.client_auth = true;
  spec.label = "server-broker-1";
  absl::StatusOr<IssuedCertificate> issued = ca_->Issue(spec, root_ + "/out");
  ASSERT_TRUE(issued.ok()) << issued.status();
  x509::CertPtr cert = LoadCert(issued->cert_path);
  ASSERT_NE(cert, nullptr);
  EXPECT_THAT(x509::DnsSans(cert.get()),
              ElementsAre("localhost", "broker.example.org"));
  EXPECT_THAT(x509::IpSans(cert.get()),
              ElementsAre("127.0.0.1", "0:0:0:0:0:0:0:1"));
  EXPECT_EQ(X509_get_extended_key_usage(cert.get()),
            XKU_SSL_SERVER | XKU_SSL_CLIENT);
  EXPECT_EQ(Verify(cert.get(), ca_->ca_certificate(), nullptr,
                   X509_PURPOSE_SSL_SERVER),
            X509_V_OK);
  EXPECT_EQ(X509_check_host(cert.get(), "localhost", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_ip_asc(cert.get(), "127.0.0.1", 0), 1);
  EXPECT_EQ(ca_->List().back().kind, "broker");
}

TEST_F(CaTest, ClientCertificateIsNotAServerCertificate) {
  x509::CertPtr cert = LoadCert(IssueAgency("st-olavs").cert_path);
  ASSERT_NE(cert, nullptr);
  EXPECT_EQ(Verify(cert.get(), ca_->ca_certificate(), nullptr,
                   X509_PURPOSE_SSL_SERVER),
            X509_V_ERR_INVALID_PURPOSE);
}

TEST_F(CaTest, BackdatedCertificateHasExpired) {
  IssueSpec spec = AgencySpec("health", "st-olavs", now_);
  ASSERT_TRUE(absl::ParseTime(absl::RFC3339_full, "2020-01-01T00:00:00Z",
                              &spec.not_before, nullptr));
  spec.validity = absl::Hours(24);
  absl::StatusOr<IssuedCertificate> issued =
      ca_->Issue(spec, ca_->issued_dir());
  ASSERT_TRUE(issued.ok()) << issued.status();
  EXPECT_EQ(Rfc3339(issued->not_after), "2020-01-02T00:00:00Z");
  x509::CertPtr cert = LoadCert(issued->cert_path);
  ASSERT_NE(cert, nullptr);
  EXPECT_EQ(Verify(cert.get(), ca_->ca_certificate()),
            X509_V_ERR_CERT_HAS_EXPIRED);
  ASSERT_EQ(ca_->List().size(), 1u);
  EXPECT_EQ(ca_->List()[0].StatusAt(now_), CertificateStatus::kExpired);
}

TEST_F(CaTest, RefusesValidityBeyondTheCa) {
  IssueSpec spec = AgencySpec("health", "st-olavs", now_);
  spec.validity = absl::Hours(24 * 3651);
  absl::StatusOr<IssuedCertificate> issued =
      ca_->Issue(spec, ca_->issued_dir());
  EXPECT_EQ(issued.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(issued.status().message(), HasSubstr("CA certificate expires"));
  EXPECT_TRUE(ca_->List().empty());
}

TEST_F(CaTest, RevokedCertificateIsListedInTheCrlAndRejected) {
  IssuedCertificate revoked = IssueAgency("st-olavs");
  IssuedCertificate kept = IssueAgency("rosengard");
  const absl::Time when = now_ - absl::Minutes(5);
  absl::StatusOr<IndexEntry> entry =
      ca_->Revoke(revoked.serial, RevocationReason::kKeyCompromise, when);
  ASSERT_TRUE(entry.ok()) << entry.status();
  EXPECT_EQ(entry->StatusAt(now_), CertificateStatus::kRevoked);
  EXPECT_EQ(entry->revoked_at, when);
  EXPECT_EQ(entry->principal, "liaison://agency/health/st-olavs");

  absl::StatusOr<CrlSummary> summary =
      ca_->WriteCrl(ca_->crl_path(), now_, absl::Hours(24 * 7));
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->number, 1u);
  EXPECT_EQ(summary->revoked, 1u);
  EXPECT_EQ(summary->next_update, now_ + absl::Hours(24 * 7));

  absl::StatusOr<x509::RevocationList> list =
      x509::ReadCrlFile(ca_->crl_path(), ca_->ca_certificate());
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->revoked.size(), 1u);
  EXPECT_EQ(list->revoked.at(revoked.serial), when);
  EXPECT_EQ(list->this_update, now_);
  EXPECT_EQ(list->next_update, now_ + absl::Hours(24 * 7));

  x509::CrlPtr crl = ParseCrl(Contents(ca_->crl_path()));
  ASSERT_NE(crl, nullptr);
  EXPECT_EQ(X509_CRL_get_version(crl.get()), X509_CRL_VERSION_2);
  EXPECT_EQ(X509_CRL_get_signature_nid(crl.get()), NID_ecdsa_with_SHA256);
  auto* number = static_cast<ASN1_INTEGER*>(
      X509_CRL_get_ext_d2i(crl.get(), NID_crl_number, nullptr, nullptr));
  ASSERT_NE(number, nullptr);
  EXPECT_EQ(ASN1_INTEGER_get(number), 1);
  ASN1_INTEGER_free(number);
  X509_REVOKED* r = sk_X509_REVOKED_value(X509_CRL_get_REVOKED(crl.get()), 0);
  auto* reason = static_cast<ASN1_ENUMERATED*>(
      X509_REVOKED_get_ext_d2i(r, NID_crl_reason, nullptr, nullptr));
  ASSERT_NE(reason, nullptr);
  EXPECT_EQ(ASN1_ENUMERATED_get(reason), 1);  // keyCompromise
  ASN1_ENUMERATED_free(reason);

  x509::CertPtr revoked_cert = LoadCert(revoked.cert_path);
  x509::CertPtr kept_cert = LoadCert(kept.cert_path);
  EXPECT_EQ(Verify(revoked_cert.get(), ca_->ca_certificate(), crl.get()),
            X509_V_ERR_CERT_REVOKED);
  EXPECT_EQ(Verify(kept_cert.get(), ca_->ca_certificate(), crl.get()),
            X509_V_OK);
}

TEST_F(CaTest, CrlNumbersIncreaseAndEmptyCrlIsValid) {
  CrlSummary first, second;
  absl::StatusOr<std::string> pem1 = ca_->CrlPem(now_, absl::Hours(1), &first);
  absl::StatusOr<std::string> pem2 = ca_->CrlPem(now_, absl::Hours(1), &second);
  ASSERT_TRUE(pem1.ok()) << pem1.status();
  ASSERT_TRUE(pem2.ok()) << pem2.status();
  EXPECT_EQ(first.number, 1u);
  EXPECT_EQ(second.number, 2u);
  EXPECT_EQ(first.revoked, 0u);
  EXPECT_EQ(Contents(dir_ + "/crlnumber"), "3\n");
  x509::CrlPtr crl = ParseCrl(*pem2);
  ASSERT_NE(crl, nullptr);
  EXPECT_EQ(X509_CRL_verify(crl.get(), X509_get0_pubkey(ca_->ca_certificate())),
            1);
  x509::CertPtr cert = LoadCert(IssueAgency("st-olavs").cert_path);
  EXPECT_EQ(Verify(cert.get(), ca_->ca_certificate(), crl.get()), X509_V_OK);
}

TEST_F(CaTest, CrlFromAnotherCaIsRejected) {
  absl::StatusOr<CertificateAuthority> other = CertificateAuthority::Init(
      root_ + "/other", "Other CA", absl::Hours(24 * 10), now_);
  ASSERT_TRUE(other.ok()) << other.status();
  const std::string path = root_ + "/other.pem";
  ASSERT_TRUE(other->WriteCrl(path, now_, absl::Hours(24)).ok());
  absl::StatusOr<x509::RevocationList> list =
      x509::ReadCrlFile(path, ca_->ca_certificate());
  EXPECT_EQ(list.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(x509::ReadCrlFile(path, other->ca_certificate()).ok());
}

TEST_F(CaTest, IssuingToAnExistingLabelFailsAndChangesNothing) {
  IssuedCertificate first = IssueAgency("st-olavs");
  const std::string index = Contents(dir_ + "/index.tsv");
  const std::string cert = Contents(first.cert_path);
  const std::string key = Contents(first.key_path);

  absl::StatusOr<IssuedCertificate> again =
      ca_->Issue(AgencySpec("health", "st-olavs", now_), ca_->issued_dir());
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(again.status().message(), HasSubstr("--force"));
  EXPECT_EQ(Contents(dir_ + "/index.tsv"), index);
  EXPECT_EQ(Contents(first.cert_path), cert);
  EXPECT_EQ(Contents(first.key_path), key);
  EXPECT_EQ(ca_->List().size(), 1u);

  again = ca_->Issue(AgencySpec("health", "st-olavs", now_), ca_->issued_dir(),
                     /*overwrite=*/true);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_NE(again->serial, first.serial);
  EXPECT_NE(Contents(first.cert_path), cert);
  ASSERT_EQ(ca_->List().size(), 2u);
  EXPECT_FALSE(ca_->List()[0].revoked);
}

TEST_F(CaTest, BadSpecIsRefusedWithoutWritingAnything) {
  IssueSpec spec = AgencySpec("health", "st-olavs", now_);
  spec.ip_sans = {"not-an-ip"};
  absl::StatusOr<IssuedCertificate> issued = ca_->Issue(spec, root_ + "/out");
  EXPECT_EQ(issued.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(issued.status().message(), HasSubstr("not-an-ip"));
  EXPECT_FALSE(FileExists(root_ + "/out"));

  spec = AgencySpec("health", "st-olavs", now_);
  spec.label = "../escape";
  EXPECT_EQ(ca_->Issue(spec, root_ + "/out").status().code(),
            absl::StatusCode::kInvalidArgument);
  spec = AgencySpec("health", "st-olavs", now_);
  spec.common_name = std::string(65, 'a');
  EXPECT_EQ(ca_->Issue(spec, root_ + "/out").status().code(),
            absl::StatusCode::kInvalidArgument);
  spec = AgencySpec("health", "st-olavs", now_);
  spec.uri_sans = {"liaison://agency/health/a\tb"};
  EXPECT_EQ(ca_->Issue(spec, root_ + "/out").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(FileExists(root_ + "/out"));
  EXPECT_TRUE(ca_->List().empty());
}

TEST_F(CaTest, LowLevelIssueWritesMalformedSansAsGiven) {
  struct Case {
    std::vector<std::string> uris;
    std::string problem;
  };
  const Case cases[] = {
      {{}, "no URI SAN"},
      {{"liaison://agency/health/a", "liaison://admin/b"}, "2 URI SANs"},
      {{"https://example.org/x"}, "not a Liaison principal"},
      {{"liaison://agency/health"}, "must have the form"},
  };
  int n = 0;
  for (const Case& c : cases) {
    IssueSpec spec = AgencySpec("health", "x", now_);
    spec.uri_sans = c.uris;
    spec.label = absl::StrCat("raw-", n++);
    absl::StatusOr<IssuedCertificate> issued = ca_->Issue(spec, root_ + "/raw");
    ASSERT_TRUE(issued.ok()) << issued.status();
    x509::CertPtr cert = LoadCert(issued->cert_path);
    ASSERT_NE(cert, nullptr);
    EXPECT_EQ(x509::UriSans(cert.get()), c.uris);
    EXPECT_EQ(Verify(cert.get(), ca_->ca_certificate()), X509_V_OK);
    absl::StatusOr<PrincipalName> principal = CertificatePrincipal(cert.get());
    EXPECT_EQ(principal.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(principal.status().message(), HasSubstr(c.problem));
    EXPECT_EQ(ca_->List().back().kind, "other");
  }
}

TEST_F(CaTest, RevokeRefusesUnknownSerialsAndSecondRevocation) {
  IssuedCertificate issued = IssueAgency("st-olavs");
  absl::StatusOr<IndexEntry> r =
      ca_->Revoke("0123456789ABCDEF", RevocationReason::kUnspecified, now_);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(r.status().message(), HasSubstr("never issued"));
  r = ca_->Revoke("not hex", RevocationReason::kUnspecified, now_);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);

  // Serials are accepted in lower case, as other tools print them.
  r = ca_->Revoke(absl::AsciiStrToLower(issued.serial),
                  RevocationReason::kSuperseded, now_);
  ASSERT_TRUE(r.ok()) << r.status();
  const std::string index = Contents(dir_ + "/index.tsv");
  r = ca_->Revoke(issued.serial, RevocationReason::kKeyCompromise, now_);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(r.status().message(), HasSubstr("already revoked"));
  EXPECT_EQ(Contents(dir_ + "/index.tsv"), index);
}

TEST_F(CaTest, IndexSurvivesReopen) {
  IssuedCertificate a = IssueAgency("st-olavs");
  IssuedCertificate b = IssueAgency("rosengard");
  ASSERT_TRUE(
      ca_->Revoke(b.serial, RevocationReason::kAffiliationChanged, now_).ok());

  absl::StatusOr<CertificateAuthority> reopened =
      CertificateAuthority::Open(dir_);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  std::vector<IndexEntry> entries = reopened->List();
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].serial, a.serial);
  EXPECT_EQ(entries[0].kind, "agency");
  EXPECT_EQ(entries[0].principal, "liaison://agency/health/st-olavs");
  EXPECT_THAT(entries[0].subject, HasSubstr("st-olavs"));
  EXPECT_EQ(entries[0].not_before, now_);
  EXPECT_EQ(entries[0].not_after, a.not_after);
  EXPECT_EQ(entries[0].StatusAt(now_), CertificateStatus::kValid);
  EXPECT_EQ(entries[0].cert_path, "issued/agency-st-olavs.crt");
  EXPECT_EQ(entries[1].serial, b.serial);
  EXPECT_TRUE(entries[1].revoked);
  EXPECT_EQ(entries[1].revoked_at, now_);
  EXPECT_EQ(entries[1].reason, RevocationReason::kAffiliationChanged);
  EXPECT_EQ(X509_cmp(reopened->ca_certificate(), ca_->ca_certificate()), 0);
}

TEST_F(CaTest, DamagedIndexIsReported) {
  std::ofstream(dir_ + "/index.tsv", std::ios::app) << "garbage\n";
  absl::StatusOr<CertificateAuthority> reopened =
      CertificateAuthority::Open(dir_);
  EXPECT_EQ(reopened.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(reopened.status().message(), HasSubstr("line 2"));
}

TEST_F(CaTest, ConcurrentIssuersAllLandInTheIndex) {
  constexpr int kThreads = 4;
  constexpr int kEach = 3;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([this, t] {
      absl::StatusOr<CertificateAuthority> ca =
          CertificateAuthority::Open(dir_);
      ASSERT_TRUE(ca.ok()) << ca.status();
      for (int i = 0; i < kEach; ++i) {
        IssueSpec spec =
            AgencySpec("health", absl::StrCat("agency-", t, "-", i), now_);
        absl::StatusOr<IssuedCertificate> issued =
            ca->Issue(spec, ca->issued_dir());
        EXPECT_TRUE(issued.ok()) << issued.status();
      }
    });
  }
  for (std::thread& t : threads) t.join();
  absl::StatusOr<CertificateAuthority> reopened =
      CertificateAuthority::Open(dir_);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_EQ(reopened->List().size(), static_cast<size_t>(kThreads * kEach));
}

TEST(SerialTest, NormalizesTheFormsPeopleType) {
  EXPECT_EQ(x509::NormalizeSerial("0a:bc:de").value_or(""), "0ABCDE");
  EXPECT_EQ(x509::NormalizeSerial("0xABCDE").value_or(""), "0ABCDE");
  EXPECT_EQ(x509::NormalizeSerial(" 00ff ").value_or(""), "FF");
  EXPECT_FALSE(x509::NormalizeSerial("").ok());
  EXPECT_FALSE(x509::NormalizeSerial("12g4").ok());
  EXPECT_FALSE(x509::NormalizeSerial(std::string(41, 'a')).ok());
}

TEST(ReasonTest, NamesRoundTrip) {
  for (RevocationReason r :
       {RevocationReason::kUnspecified, RevocationReason::kKeyCompromise,
        RevocationReason::kSuperseded, RevocationReason::kAffiliationChanged,
        RevocationReason::kCessationOfOperation}) {
    EXPECT_EQ(ParseRevocationReason(ReasonName(r))
                  .value_or(RevocationReason::kUnspecified),
              r);
  }
  absl::StatusOr<RevocationReason> bad = ParseRevocationReason("lost");
  EXPECT_THAT(bad.status().message(), HasSubstr("key_compromise"));
}

}  // namespace
}  // namespace liaison::certs

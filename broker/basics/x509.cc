#include "broker/basics/x509.h"

#include <fcntl.h>
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "broker/basics/files.h"

namespace liaison::x509 {
namespace {

struct BioFree {
  void operator()(BIO* p) const { BIO_free(p); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;

std::string BioContents(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(len));
}

absl::Time Asn1TimeToAbsl(const ASN1_TIME* t) {
  struct tm tm_value = {};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm_value) != 1) {
    return absl::InfinitePast();
  }
  return absl::FromTM(tm_value, absl::UTCTimeZone());
}

std::vector<std::string> SansOfType(const X509* cert, int type) {
  std::vector<std::string> out;
  auto* names = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (names == nullptr) return out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
    if (name->type != type) continue;
    if (type == GEN_IPADD) {
      const ASN1_OCTET_STRING* ip = name->d.iPAddress;
      char buf[64];
      if (ip->length == 4) {
        snprintf(buf, sizeof buf, "%d.%d.%d.%d", ip->data[0], ip->data[1],
                 ip->data[2], ip->data[3]);
        out.emplace_back(buf);
      } else {
        std::string hex;
        for (int j = 0; j < ip->length; j += 2) {
          if (j) hex += ':';
          snprintf(buf, sizeof buf, "%x", (ip->data[j] << 8) | ip->data[j + 1]);
          hex += buf;
        }
        out.push_back(hex);
      }
      continue;
    }
    const ASN1_IA5STRING* s =
        type == GEN_URI ? name->d.uniformResourceIdentifier : name->d.dNSName;
    out.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     static_cast<size_t>(ASN1_STRING_length(s)));
  }
  GENERAL_NAMES_free(names);
  return out;
}

std::string NameLine(const X509_NAME* name) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(bio.get(), name, 0,
                     XN_FLAG_ONELINE & ~ASN1_STRFLGS_ESC_MSB);
  return BioContents(bio.get());
}

}  // namespace

std::string OpenSslErrors() {
  std::vector<std::string> errors;
  unsigned long code;
  while ((code = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof buf);
    errors.emplace_back(buf);
  }
  return errors.empty() ? "no OpenSSL detail" : absl::StrJoin(errors, "; ");
}

absl::StatusOr<CertPtr> ParseCertificatePem(absl::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  CertPtr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a PEM certificate: ", OpenSslErrors()));
  }
  return cert;
}

absl::StatusOr<CertPtr> ReadCertificateFile(const std::string& path) {
  absl::StatusOr<std::string> pem = ReadFile(path);
  if (!pem.ok()) return pem.status();
  absl::StatusOr<CertPtr> cert = ParseCertificatePem(*pem);
  if (!cert.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", cert.status().message()));
  }
  return cert;
}

absl::StatusOr<KeyPtr> ParsePrivateKeyPem(absl::string_view pem,
                                          absl::string_view source) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  KeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": not a PEM private key: ", OpenSslErrors()));
  }
  return key;
}

absl::StatusOr<KeyPtr> ReadPrivateKeyFile(const std::string& path) {
  absl::StatusOr<std::string> pem = ReadFile(path);
  if (!pem.ok()) return pem.status();
  return ParsePrivateKeyPem(*pem, path);
}

absl::StatusOr<std::string> CertificateToPem(const X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_X509(bio.get(), const_cast<X509*>(cert)) != 1) {
    return absl::InternalError(
        absl::StrCat("PEM encoding failed: ", OpenSslErrors()));
  }
  return BioContents(bio.get());
}

absl::StatusOr<std::string> PrivateKeyToPem(const EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_PrivateKey(bio.get(), const_cast<EVP_PKEY*>(key), nullptr,
                               nullptr, 0, nullptr, nullptr) != 1) {
    return absl::InternalError(
        absl::StrCat("PEM encoding failed: ", OpenSslErrors()));
  }
  return BioContents(bio.get());
}

std::string SerialHex(const X509* cert) {
  const ASN1_INTEGER* serial = X509_get0_serialNumber(cert);
  BIGNUM* bn = ASN1_INTEGER_to_BN(serial, nullptr);
  if (bn == nullptr) return "";
  char* hex = BN_bn2hex(bn);
  std::string out(hex);
  OPENSSL_free(hex);
  BN_free(bn);
  return out;
}

absl::StatusOr<std::string> NormalizeSerial(absl::string_view serial) {
  absl::string_view s = absl::StripAsciiWhitespace(serial);
  if (!absl::ConsumePrefix(&s, "0x")) absl::ConsumePrefix(&s, "0X");
  std::string digits = absl::StrReplaceAll(s, {{":", ""}});
  // RFC 5280 allows at most 20 octets.
  bool ok = !digits.empty() && digits.size() <= 40;
  for (char c : digits) ok = ok && absl::ascii_isxdigit(c);
  if (!ok) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", absl::CHexEscape(serial),
        "\" is not a certificate serial (hexadecimal, as `liaison-certs list` "
        "prints it)"));
  }
  BIGNUM* bn = nullptr;
  if (BN_hex2bn(&bn, digits.c_str()) == 0) {
    return absl::InternalError(absl::StrCat("BN_hex2bn: ", OpenSslErrors()));
  }
  char* hex = BN_bn2hex(bn);
  BN_free(bn);
  if (hex == nullptr) {
    return absl::InternalError(absl::StrCat("BN_bn2hex: ", OpenSslErrors()));
  }
  std::string out(hex);
  OPENSSL_free(hex);
  return out;
}

std::vector<std::string> UriSans(const X509* cert) {
  return SansOfType(cert, GEN_URI);
}
std::vector<std::string> DnsSans(const X509* cert) {
  return SansOfType(cert, GEN_DNS);
}
std::vector<std::string> IpSans(const X509* cert) {
  return SansOfType(cert, GEN_IPADD);
}

std::string SubjectLine(const X509* cert) {
  return NameLine(X509_get_subject_name(cert));
}

std::string IssuerLine(const X509* cert) {
  return NameLine(X509_get_issuer_name(cert));
}

absl::Time NotBefore(const X509* cert) {
  return Asn1TimeToAbsl(X509_get0_notBefore(cert));
}
absl::Time NotAfter(const X509* cert) {
  return Asn1TimeToAbsl(X509_get0_notAfter(cert));
}

absl::StatusOr<RevocationList> ReadCrlFile(const std::string& path,
                                           const X509* ca) {
  absl::StatusOr<std::string> pem = ReadFile(path);
  if (!pem.ok()) return pem.status();
  BioPtr bio(BIO_new_mem_buf(pem->data(), static_cast<int>(pem->size())));
  CrlPtr crl(PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr));
  if (!crl) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": not a PEM CRL: ", OpenSslErrors()));
  }
  EVP_PKEY* ca_key = X509_get0_pubkey(ca);
  if (ca_key == nullptr || X509_CRL_verify(crl.get(), ca_key) != 1) {
    OpenSslErrors();
    return absl::InvalidArgumentError(absl::StrCat(
        path,
        ": CRL signature does not verify against the deployment CA; "
        "write it with `liaison-certs crl` from this deployment's CA"));
  }
  RevocationList out;
  out.this_update = Asn1TimeToAbsl(X509_CRL_get0_lastUpdate(crl.get()));
  out.next_update = Asn1TimeToAbsl(X509_CRL_get0_nextUpdate(crl.get()));
  STACK_OF(X509_REVOKED)* revoked = X509_CRL_get_REVOKED(crl.get());
  for (int i = 0; i < sk_X509_REVOKED_num(revoked); ++i) {
    const X509_REVOKED* r = sk_X509_REVOKED_value(revoked, i);
    BIGNUM* bn = ASN1_INTEGER_to_BN(X509_REVOKED_get0_serialNumber(r), nullptr);
    if (bn == nullptr) continue;
    char* hex = BN_bn2hex(bn);
    out.revoked[hex] = Asn1TimeToAbsl(X509_REVOKED_get0_revocationDate(r));
    OPENSSL_free(hex);
    BN_free(bn);
  }
  return out;
}

}  // namespace liaison::x509

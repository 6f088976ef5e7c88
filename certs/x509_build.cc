#include "certs/x509_build.h"

#include <openssl/err.h>
#include <openssl/rand.h>

#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "broker/basics/status_macros.h"
#include "broker/basics/time_format.h"

namespace liaison::certs {
namespace {

constexpr char kOrganization[] = "Liaison";
constexpr int kSerialBytes = 16;
constexpr size_t kMaxCommonName = 64;  // ub-common-name, RFC 5280

// IA5String content of a SAN: printable ASCII.
absl::Status CheckIa5(absl::string_view what, absl::string_view value) {
  if (value.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(what, " SAN is empty"));
  }
  for (unsigned char c : value) {
    if (c < 0x20 || c > 0x7e) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, " SAN \"", absl::CHexEscape(value),
          "\" may contain only printable ASCII characters"));
    }
  }
  return absl::OkStatus();
}

absl::Status SetTime(ASN1_TIME* field, absl::Time t) {
  if (ASN1_TIME_set(field, absl::ToTimeT(t)) == nullptr) {
    return OpenSslError(absl::StrCat("encoding time ", Rfc3339(t)));
  }
  return absl::OkStatus();
}

// "CN=<common_name>, O=Liaison".
absl::StatusOr<NamePtr> SubjectName(const std::string& common_name) {
  NamePtr name(X509_NAME_new());
  if (!name ||
      X509_NAME_add_entry_by_txt(
          name.get(), "CN", MBSTRING_UTF8,
          reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
          0) != 1 ||
      X509_NAME_add_entry_by_txt(
          name.get(), "O", MBSTRING_UTF8,
          reinterpret_cast<const unsigned char*>(kOrganization), -1, -1,
          0) != 1) {
    return OpenSslError(absl::StrCat("building subject for \"", common_name, "\""));
  }
  return name;
}

}  // namespace

absl::Status OpenSslError(absl::string_view what) {
  return absl::InternalError(
      absl::StrCat(what, " failed: ", x509::OpenSslErrors()));
}

bool HasControlCharacter(absl::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return true;
  }
  return false;
}

absl::Status CheckCommonName(absl::string_view cn) {
  if (cn.empty() || cn.size() > kMaxCommonName) {
    return absl::InvalidArgumentError(absl::StrCat(
        "common name \"", cn, "\" must be 1 to ", kMaxCommonName,
        " characters long"));
  }
  if (HasControlCharacter(cn)) {
    return absl::InvalidArgumentError(
        "common name may not contain control characters");
  }
  return absl::OkStatus();
}

absl::Status CheckLabel(absl::string_view label) {
  if (label.empty() || label == "." || label == ".." ||
      absl::StrContains(label, '/') || HasControlCharacter(label) ||
      label.size() > 200) {
    return absl::InvalidArgumentError(absl::StrCat(
        "label \"", absl::CHexEscape(label),
        "\" must be a plain file name stem (no '/', no control characters)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<x509::KeyPtr> GenerateP256Key() {
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_group_name(ctx.get(), "P-256") != 1) {
    return OpenSslError("setting up EC P-256 key generation");
  }
  EVP_PKEY* key = nullptr;
  if (EVP_PKEY_generate(ctx.get(), &key) != 1) {
    return OpenSslError("EC P-256 key generation");
  }
  return x509::KeyPtr(key);
}

absl::StatusOr<BnPtr> RandomSerial() {
  unsigned char bytes[kSerialBytes];
  while (true) {
    if (RAND_bytes(bytes, sizeof bytes) != 1) {
      return OpenSslError("RAND_bytes");
    }
    bytes[0] &= 0x7f;
    BnPtr bn(BN_bin2bn(bytes, sizeof bytes, nullptr));
    if (!bn) return OpenSslError("BN_bin2bn");
    if (!BN_is_zero(bn.get())) return bn;
  }
}

std::string BnHex(const BIGNUM* bn) {
  char* hex = BN_bn2hex(bn);
  if (hex == nullptr) return "";
  std::string out(hex);
  OPENSSL_free(hex);
  return out;
}

absl::StatusOr<AsnTimePtr> NewTime(absl::Time t) {
  AsnTimePtr out(ASN1_TIME_set(nullptr, absl::ToTimeT(t)));
  if (!out) return OpenSslError(absl::StrCat("encoding time ", Rfc3339(t)));
  return out;
}

absl::StatusOr<x509::CertPtr> NewCertificate(const BIGNUM* serial,
                                             const std::string& common_name,
                                             const X509_NAME* issuer,
                                             absl::Time not_before,
                                             absl::Time not_after,
                                             EVP_PKEY* subject_key) {
  x509::CertPtr cert(X509_new());
  if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1) {
    return OpenSslError("X509_new");
  }
  AsnIntegerPtr serial_asn(BN_to_ASN1_INTEGER(serial, nullptr));
  if (!serial_asn || X509_set_serialNumber(cert.get(), serial_asn.get()) != 1) {
    return OpenSslError("setting the serial number");
  }
  ASSIGN_OR_RETURN(NamePtr subject, SubjectName(common_name));
  if (X509_set_subject_name(cert.get(), subject.get()) != 1 ||
      X509_set_issuer_name(cert.get(),
                           issuer != nullptr ? issuer : subject.get()) != 1) {
    return OpenSslError("setting subject and issuer");
  }
  RETURN_IF_ERROR(SetTime(X509_getm_notBefore(cert.get()), not_before));
  RETURN_IF_ERROR(SetTime(X509_getm_notAfter(cert.get()), not_after));
  if (X509_set_pubkey(cert.get(), subject_key) != 1) {
    return OpenSslError("setting the public key");
  }
  return cert;
}

absl::Status AddExtension(X509* cert, X509V3_CTX* ctx, int nid,
                          const char* value) {
  ExtensionPtr ext(X509V3_EXT_nconf_nid(nullptr, ctx, nid, value));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
    return OpenSslError(absl::StrCat("adding ", OBJ_nid2sn(nid), " \"",
                                     value, "\""));
  }
  return absl::OkStatus();
}

absl::Status AddSubjectAltNames(X509* cert, const IssueSpec& spec) {
  if (spec.uri_sans.empty() && spec.dns_sans.empty() && spec.ip_sans.empty()) {
    return absl::OkStatus();
  }
  GeneralNamesPtr names(GENERAL_NAMES_new());
  if (!names) return OpenSslError("GENERAL_NAMES_new");
  auto push = [&](GeneralNamePtr name) -> absl::Status {
    if (sk_GENERAL_NAME_push(names.get(), name.get()) == 0) {
      return OpenSslError("adding a subjectAltName entry");
    }
    name.release();
    return absl::OkStatus();
  };
  auto add_text = [&](int type, absl::string_view what,
                      const std::string& value) -> absl::Status {
    RETURN_IF_ERROR(CheckIa5(what, value));
    GeneralNamePtr name(GENERAL_NAME_new());
    AsnStringPtr text(ASN1_IA5STRING_new());
    if (!name || !text ||
        ASN1_STRING_set(text.get(), value.data(),
                        static_cast<int>(value.size())) != 1) {
      return OpenSslError("encoding a subjectAltName entry");
    }
    GENERAL_NAME_set0_value(name.get(), type, text.release());
    return push(std::move(name));
  };
  for (const std::string& uri : spec.uri_sans) {
    RETURN_IF_ERROR(add_text(GEN_URI, "URI", uri));
  }
  for (const std::string& dns : spec.dns_sans) {
    RETURN_IF_ERROR(add_text(GEN_DNS, "DNS", dns));
  }
  for (const std::string& ip : spec.ip_sans) {
    ASN1_OCTET_STRING* octets = a2i_IPADDRESS(ip.c_str());
    if (octets == nullptr) {
      x509::OpenSslErrors();
      return absl::InvalidArgumentError(absl::StrCat(
          "\"", absl::CHexEscape(ip), "\" is not an IPv4 or IPv6 address"));
    }
    GeneralNamePtr name(GENERAL_NAME_new());
    if (!name) {
      ASN1_OCTET_STRING_free(octets);
      return OpenSslError("GENERAL_NAME_new");
    }
    GENERAL_NAME_set0_value(name.get(), GEN_IPADD, octets);
    RETURN_IF_ERROR(push(std::move(name)));
  }
  if (X509_add1_ext_i2d(cert, NID_subject_alt_name, names.get(), 0,
                        X509V3_ADD_DEFAULT) != 1) {
    return OpenSslError("adding subjectAltName");
  }
  return absl::OkStatus();
}

absl::Status Sign(X509* cert, EVP_PKEY* key) {
  if (X509_sign(cert, key, EVP_sha256()) <= 0) {
    return OpenSslError("signing the certificate");
  }
  return absl::OkStatus();
}

}  // namespace liaison::certs

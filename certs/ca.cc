#include "certs/ca.h"

#include <fcntl.h>
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "broker/basics/files.h"
#include "broker/basics/status_macros.h"
#include "broker/basics/time_format.h"

namespace liaison::certs {
namespace {

namespace fs = std::filesystem;

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
template <typename T, void (*Free)(T*)>
using Owned = std::unique_ptr<T, Deleter<T, Free>>;

using AsnIntegerPtr = Owned<ASN1_INTEGER, ASN1_INTEGER_free>;
using AsnEnumeratedPtr = Owned<ASN1_ENUMERATED, ASN1_ENUMERATED_free>;
using AsnStringPtr = Owned<ASN1_STRING, ASN1_STRING_free>;
using AsnTimePtr = Owned<ASN1_TIME, ASN1_TIME_free>;
using BioPtr = Owned<BIO, BIO_free_all>;
using BnPtr = Owned<BIGNUM, BN_free>;
using ExtensionPtr = Owned<X509_EXTENSION, X509_EXTENSION_free>;
using GeneralNamePtr = Owned<GENERAL_NAME, GENERAL_NAME_free>;
using GeneralNamesPtr = Owned<GENERAL_NAMES, GENERAL_NAMES_free>;
using NamePtr = Owned<X509_NAME, X509_NAME_free>;
using PkeyCtxPtr = Owned<EVP_PKEY_CTX, EVP_PKEY_CTX_free>;
using RevokedPtr = Owned<X509_REVOKED, X509_REVOKED_free>;

constexpr char kCaCert[] = "ca.crt";
constexpr char kCaKey[] = "ca.key";
constexpr char kIndex[] = "index.tsv";
constexpr char kCrlNumber[] = "crlnumber";
constexpr char kCrl[] = "crl.pem";
constexpr char kIssued[] = "issued";
constexpr char kLock[] = ".lock";

constexpr char kOrganization[] = "Liaison";
constexpr int kSerialBytes = 16;
constexpr size_t kMaxCommonName = 64;  // ub-common-name, RFC 5280

constexpr char kIndexHeader[] =
    "# liaison-certs index: serial\tkind\tprincipal\tsubject\tnot_before\t"
    "not_after\tstatus\trevoked_at\treason\tcert_path\n";
constexpr int kIndexFields = 10;

absl::Status OpenSslError(absl::string_view what) {
  return absl::InternalError(
      absl::StrCat(what, " failed: ", x509::OpenSslErrors()));
}

// An exclusive flock on <dir>/.lock, released when destroyed. Blocks while
// another process holds it.
class DirectoryLock {
 public:
  static absl::StatusOr<DirectoryLock> Acquire(const std::string& dir) {
    const std::string path = absl::StrCat(dir, "/", kLock);
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
      return absl::PermissionDeniedError(
          absl::StrCat(path, ": cannot open: ", std::strerror(errno)));
    }
    while (::flock(fd, LOCK_EX) != 0) {
      if (errno == EINTR) continue;
      const std::string err = std::strerror(errno);
      ::close(fd);
      return absl::InternalError(absl::StrCat(path, ": cannot lock: ", err));
    }
    return DirectoryLock(fd);
  }

  DirectoryLock(DirectoryLock&& other) noexcept
      : fd_(std::exchange(other.fd_, -1)) {}
  DirectoryLock& operator=(DirectoryLock&&) = delete;
  ~DirectoryLock() {
    if (fd_ >= 0) ::close(fd_);
  }

 private:
  explicit DirectoryLock(int fd) : fd_(fd) {}
  int fd_;
};

bool HasControlCharacter(absl::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return true;
  }
  return false;
}

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

absl::StatusOr<absl::Time> ParseTimestamp(absl::string_view s) {
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, s, &t, &err)) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad timestamp \"", s, "\": ", err));
  }
  return t;
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

// A random positive serial of kSerialBytes bytes (top bit clear, non-zero),
// as RFC 5280 section 4.1.2.2 wants.
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

absl::Status SetTime(ASN1_TIME* field, absl::Time t) {
  if (ASN1_TIME_set(field, absl::ToTimeT(t)) == nullptr) {
    return OpenSslError(absl::StrCat("encoding time ", Rfc3339(t)));
  }
  return absl::OkStatus();
}

absl::StatusOr<AsnTimePtr> NewTime(absl::Time t) {
  AsnTimePtr out(ASN1_TIME_set(nullptr, absl::ToTimeT(t)));
  if (!out) return OpenSslError(absl::StrCat("encoding time ", Rfc3339(t)));
  return out;
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

// A v3 certificate with everything but extensions and signature: serial,
// subject, issuer name, validity and public key.
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

// Adds an extension given in OpenSSL's configuration syntax. `value` is
// always a constant of ours, never user input.
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

std::string IndexLine(const IndexEntry& e) {
  return absl::StrCat(
      absl::StrJoin({e.serial, e.kind, e.principal, e.subject,
                     Rfc3339(e.not_before),
                     Rfc3339(e.not_after),
                     std::string(e.revoked ? "revoked" : "valid"),
                     e.revoked ? Rfc3339(e.revoked_at) : "-",
                     std::string(e.revoked ? ReasonName(e.reason) : "-"),
                     e.cert_path},
                    "\t"),
      "\n");
}

absl::StatusOr<std::vector<IndexEntry>> ParseIndex(const std::string& path,
                                                   absl::string_view text) {
  std::vector<IndexEntry> entries;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    if (line.empty() || absl::StartsWith(line, "#")) continue;
    auto bad = [&](absl::string_view why) {
      return absl::DataLossError(absl::StrCat(
          path, " line ", line_number, ": ", why,
          "; repair the line or restore the CA directory from a backup"));
    };
    std::vector<std::string> f = absl::StrSplit(line, '\t');
    if (f.size() != kIndexFields) {
      return bad(absl::StrCat("expected ", kIndexFields, " tab-separated "
                              "fields, found ", f.size()));
    }
    IndexEntry e;
    e.serial = f[0];
    e.kind = f[1];
    e.principal = f[2];
    e.subject = f[3];
    absl::StatusOr<absl::Time> t = ParseTimestamp(f[4]);
    if (!t.ok()) return bad(t.status().message());
    e.not_before = *t;
    t = ParseTimestamp(f[5]);
    if (!t.ok()) return bad(t.status().message());
    e.not_after = *t;
    if (f[6] == "revoked") {
      e.revoked = true;
      t = ParseTimestamp(f[7]);
      if (!t.ok()) return bad(t.status().message());
      e.revoked_at = *t;
      absl::StatusOr<RevocationReason> reason = ParseRevocationReason(f[8]);
      if (!reason.ok()) return bad(reason.status().message());
      e.reason = *reason;
    } else if (f[6] != "valid") {
      return bad(absl::StrCat("unknown status \"", f[6], "\""));
    }
    e.cert_path = f[9];
    if (x509::NormalizeSerial(e.serial).value_or("") != e.serial) {
      return bad(absl::StrCat("bad serial \"", e.serial, "\""));
    }
    entries.push_back(std::move(e));
  }
  return entries;
}

// Creates `dir` and its parents if missing; a directory created here gets
// `mode`.
absl::Status MakeDirectory(const std::string& dir, fs::perms mode) {
  std::error_code ec;
  bool created = fs::create_directories(dir, ec);
  if (ec) {
    return absl::PermissionDeniedError(
        absl::StrCat(dir, ": cannot create directory: ", ec.message()));
  }
  if (created) {
    fs::permissions(dir, mode, ec);
    if (ec) {
      return absl::PermissionDeniedError(
          absl::StrCat(dir, ": cannot set permissions: ", ec.message()));
    }
  }
  return absl::OkStatus();
}

bool Exists(const std::string& path) {
  std::error_code ec;
  return fs::exists(fs::symlink_status(path, ec));
}

// `file` inside `folder`, relative to `base` when inside it, else absolute.
std::string IndexPath(const std::string& base, const std::string& folder,
                      const std::string& file) {
  std::error_code ec;
  fs::path abs_base = fs::canonical(base, ec);
  if (ec) return (fs::absolute(folder) / file).lexically_normal().string();
  fs::path abs_folder = fs::canonical(folder, ec);
  if (ec) return (fs::absolute(folder) / file).lexically_normal().string();
  fs::path rel = abs_folder.lexically_relative(abs_base);
  if (rel.empty() || *rel.begin() == "..") return (abs_folder / file).string();
  return (rel / file).lexically_normal().string();
}

absl::StatusOr<uint64_t> ReadCrlNumber(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (absl::IsNotFound(text.status())) {
    return absl::FailedPreconditionError(absl::StrCat(
        path, " is missing; restore it from a backup, or write into it a "
              "number larger than that of every CRL published so far"));
  }
  if (!text.ok()) return text.status();
  uint64_t number = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &number) ||
      number == 0) {
    return absl::DataLossError(absl::StrCat(
        path, " does not hold a positive decimal number; restore it from a "
              "backup"));
  }
  return number;
}

}  // namespace

absl::string_view ReasonName(RevocationReason reason) {
  switch (reason) {
    case RevocationReason::kUnspecified:
      return "unspecified";
    case RevocationReason::kKeyCompromise:
      return "key_compromise";
    case RevocationReason::kAffiliationChanged:
      return "affiliation_changed";
    case RevocationReason::kSuperseded:
      return "superseded";
    case RevocationReason::kCessationOfOperation:
      return "cessation_of_operation";
  }
  return "unspecified";
}

absl::StatusOr<RevocationReason> ParseRevocationReason(absl::string_view name) {
  for (RevocationReason r :
       {RevocationReason::kUnspecified, RevocationReason::kKeyCompromise,
        RevocationReason::kSuperseded, RevocationReason::kAffiliationChanged,
        RevocationReason::kCessationOfOperation}) {
    if (name == ReasonName(r)) return r;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown revocation reason \"", name,
      "\"; use unspecified, key_compromise, superseded, affiliation_changed "
      "or cessation_of_operation"));
}

absl::string_view StatusName(CertificateStatus status) {
  switch (status) {
    case CertificateStatus::kValid:
      return "VALID";
    case CertificateStatus::kRevoked:
      return "REVOKED";
    case CertificateStatus::kExpired:
      return "EXPIRED";
  }
  return "VALID";
}

absl::StatusOr<PrincipalName> CertificatePrincipal(const X509* cert) {
  std::vector<std::string> uris = x509::UriSans(cert);
  if (uris.empty()) {
    return absl::InvalidArgumentError(
        "certificate has no URI SAN; a Liaison certificate names its "
        "principal in exactly one URI SAN");
  }
  if (uris.size() > 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "certificate has ", uris.size(), " URI SANs (",
        absl::StrJoin(uris, ", "),
        "); a Liaison certificate carries exactly one"));
  }
  return ParsePrincipalUri(uris[0]);
}

std::string DescribePublicKey(const X509* cert) {
  EVP_PKEY* key = X509_get0_pubkey(cert);
  if (key == nullptr) {
    x509::OpenSslErrors();
    return "unreadable public key";
  }
  const int id = EVP_PKEY_get_base_id(key);
  if (id == EVP_PKEY_EC) {
    char group[80] = {};
    size_t len = 0;
    if (EVP_PKEY_get_group_name(key, group, sizeof group, &len) != 1) {
      return "EC (unknown curve)";
    }
    const absl::string_view name(group, len);
    if (name == "prime256v1" || name == "P-256") return "EC P-256";
    if (name == "secp384r1" || name == "P-384") return "EC P-384";
    if (name == "secp521r1" || name == "P-521") return "EC P-521";
    return absl::StrCat("EC ", name);
  }
  if (id == EVP_PKEY_RSA) {
    return absl::StrCat("RSA ", EVP_PKEY_get_bits(key), " bits");
  }
  const char* type = EVP_PKEY_get0_type_name(key);
  return type != nullptr ? type : "unknown key type";
}

CertificateStatus IndexEntry::StatusAt(absl::Time now) const {
  if (revoked) return CertificateStatus::kRevoked;
  if (now > not_after) return CertificateStatus::kExpired;
  return CertificateStatus::kValid;
}

CertificateAuthority::CertificateAuthority(std::string dir,
                                           x509::CertPtr cert,
                                           x509::KeyPtr key,
                                           std::vector<IndexEntry> entries)
    : dir_(std::move(dir)),
      cert_(std::move(cert)),
      key_(std::move(key)),
      entries_(std::move(entries)) {}

std::string CertificateAuthority::FilePath(absl::string_view name) const {
  return absl::StrCat(dir_, "/", name);
}

std::string CertificateAuthority::issued_dir() const {
  return FilePath(kIssued);
}

std::string CertificateAuthority::crl_path() const { return FilePath(kCrl); }

absl::StatusOr<CertificateAuthority> CertificateAuthority::Init(
    const std::string& dir, const std::string& common_name,
    absl::Duration validity, absl::Time now) {
  RETURN_IF_ERROR(CheckCommonName(common_name));
  if (validity <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("CA validity must be positive");
  }
  RETURN_IF_ERROR(MakeDirectory(dir, fs::perms::owner_all));
  ASSIGN_OR_RETURN(DirectoryLock lock, DirectoryLock::Acquire(dir));
  for (const char* file : {kCaCert, kCaKey, kIndex}) {
    const std::string path = absl::StrCat(dir, "/", file);
    if (Exists(path)) {
      return absl::AlreadyExistsError(absl::StrCat(
          dir, " already holds a CA (", path,
          " exists); refusing to overwrite it. Use another --dir, or move "
          "the old CA away if you really mean to replace it"));
    }
  }
  std::error_code ec;
  fs::permissions(dir, fs::perms::owner_all, ec);
  if (ec) {
    return absl::PermissionDeniedError(
        absl::StrCat(dir, ": cannot set mode 0700: ", ec.message()));
  }

  ASSIGN_OR_RETURN(x509::KeyPtr key, GenerateP256Key());
  ASSIGN_OR_RETURN(BnPtr serial, RandomSerial());
  ASSIGN_OR_RETURN(x509::CertPtr cert,
                   NewCertificate(serial.get(), common_name, nullptr, now,
                                  now + validity, key.get()));
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  if (X509V3_set_issuer_pkey(&ctx, key.get()) != 1) {
    return OpenSslError("X509V3_set_issuer_pkey");
  }
  // The CA only ever issues leaf certificates, hence pathlen:0.
  RETURN_IF_ERROR(AddExtension(cert.get(), &ctx, NID_basic_constraints,
                               "critical,CA:TRUE,pathlen:0"));
  RETURN_IF_ERROR(AddExtension(cert.get(), &ctx, NID_key_usage,
                               "critical,keyCertSign,cRLSign"));
  RETURN_IF_ERROR(AddExtension(cert.get(), &ctx, NID_subject_key_identifier,
                               "hash"));
  RETURN_IF_ERROR(AddExtension(cert.get(), &ctx,
                               NID_authority_key_identifier, "keyid:always"));
  RETURN_IF_ERROR(Sign(cert.get(), key.get()));

  ASSIGN_OR_RETURN(std::string key_pem, x509::PrivateKeyToPem(key.get()));
  ASSIGN_OR_RETURN(std::string cert_pem, x509::CertificateToPem(cert.get()));
  RETURN_IF_ERROR(MakeDirectory(absl::StrCat(dir, "/", kIssued),
                                fs::perms::owner_all));
  RETURN_IF_ERROR(WriteFileAtomic(absl::StrCat(dir, "/", kCrlNumber),
                                        "1\n", 0644));
  RETURN_IF_ERROR(
      WriteFileAtomic(absl::StrCat(dir, "/", kIndex), kIndexHeader, 0644));
  RETURN_IF_ERROR(
      WriteFileAtomic(absl::StrCat(dir, "/", kCaKey), key_pem, 0600));
  RETURN_IF_ERROR(
      WriteFileAtomic(absl::StrCat(dir, "/", kCaCert), cert_pem, 0644));
  return CertificateAuthority(dir, std::move(cert), std::move(key), {});
}

absl::StatusOr<CertificateAuthority> CertificateAuthority::Open(
    const std::string& dir) {
  const std::string cert_path = absl::StrCat(dir, "/", kCaCert);
  if (!Exists(cert_path)) {
    std::error_code ec;
    const bool dir_exists = fs::is_directory(dir, ec);
    return absl::NotFoundError(absl::StrCat(
        dir_exists ? absl::StrCat(dir, " holds no CA (", cert_path,
                                  " is missing)")
                   : absl::StrCat("CA directory ", dir, " does not exist"),
        "; create one with `liaison-certs --dir=", dir,
        " init`, or point --dir (or LIAISON_CA_DIR) at an existing CA"));
  }
  ASSIGN_OR_RETURN(x509::CertPtr cert, x509::ReadCertificateFile(cert_path));
  ASSIGN_OR_RETURN(x509::KeyPtr key,
                   x509::ReadPrivateKeyFile(absl::StrCat(dir, "/", kCaKey)));
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    x509::OpenSslErrors();
    return absl::FailedPreconditionError(absl::StrCat(
        dir, "/", kCaKey, " does not belong to ", cert_path,
        "; restore the CA directory from a backup"));
  }
  CertificateAuthority ca(dir, std::move(cert), std::move(key), {});
  RETURN_IF_ERROR(ca.ReloadIndex());
  return ca;
}

absl::Status CertificateAuthority::ReloadIndex() {
  const std::string path = FilePath(kIndex);
  absl::StatusOr<std::string> text = ReadFile(path);
  if (absl::IsNotFound(text.status())) {
    return absl::FailedPreconditionError(absl::StrCat(
        path, " is missing; restore the CA directory from a backup"));
  }
  if (!text.ok()) return text.status();
  ASSIGN_OR_RETURN(entries_, ParseIndex(path, *text));
  return absl::OkStatus();
}

absl::Status CertificateAuthority::WriteIndex(
    const std::vector<IndexEntry>& entries) const {
  std::string text = kIndexHeader;
  for (const IndexEntry& e : entries) absl::StrAppend(&text, IndexLine(e));
  return WriteFileAtomic(FilePath(kIndex), text, 0644);
}

bool CertificateAuthority::IsIssuerOf(const X509* cert) const {
  const bool ok =
      X509_check_issued(cert_.get(), const_cast<X509*>(cert)) == X509_V_OK &&
      X509_verify(const_cast<X509*>(cert), X509_get0_pubkey(cert_.get())) == 1;
  x509::OpenSslErrors();
  return ok;
}

absl::StatusOr<IssuedCertificate> CertificateAuthority::Issue(
    const IssueSpec& spec, const std::string& out_dir, bool overwrite) {
  RETURN_IF_ERROR(CheckCommonName(spec.common_name));
  RETURN_IF_ERROR(CheckLabel(spec.label));
  if (out_dir.empty() || HasControlCharacter(out_dir)) {
    return absl::InvalidArgumentError(
        "output folder must be a non-empty path without control characters");
  }
  if (spec.validity <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("validity must be positive");
  }
  const absl::Time not_before = absl::FromTimeT(absl::ToTimeT(spec.not_before));
  const absl::Time not_after =
      absl::FromTimeT(absl::ToTimeT(spec.not_before + spec.validity));
  const absl::Time ca_not_after = x509::NotAfter(cert_.get());
  if (not_after > ca_not_after) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the certificate would be valid until ", Rfc3339(not_after),
        ", after the CA certificate expires (", Rfc3339(ca_not_after),
        "); issue it for a shorter time"));
  }

  ASSIGN_OR_RETURN(DirectoryLock lock, DirectoryLock::Acquire(dir_));
  RETURN_IF_ERROR(ReloadIndex());
  IssuedCertificate issued;
  issued.cert_path = absl::StrCat(out_dir, "/", spec.label, ".crt");
  issued.key_path = absl::StrCat(out_dir, "/", spec.label, ".key");
  if (!overwrite) {
    for (const std::string& path : {issued.cert_path, issued.key_path}) {
      if (Exists(path)) {
        return absl::AlreadyExistsError(absl::StrCat(
            path, " already exists; refusing to overwrite it (use --force "
                  "to replace the files; the certificate they hold stays "
                  "valid until revoked)"));
      }
    }
  }

  ASSIGN_OR_RETURN(x509::KeyPtr key, GenerateP256Key());
  BnPtr serial;
  while (true) {
    ASSIGN_OR_RETURN(serial, RandomSerial());
    issued.serial = BnHex(serial.get());
    bool taken = false;
    for (const IndexEntry& e : entries_) taken = taken || e.serial == issued.serial;
    if (!taken) break;
  }
  ASSIGN_OR_RETURN(
      x509::CertPtr cert,
      NewCertificate(serial.get(), spec.common_name,
                     X509_get_subject_name(cert_.get()), not_before,
                     not_after, key.get()));
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, cert_.get(), cert.get(), nullptr, nullptr, 0);
  RETURN_IF_ERROR(
      AddExtension(cert.get(), &ctx, NID_basic_constraints, "CA:FALSE"));
  RETURN_IF_ERROR(AddExtension(cert.get(), &ctx, NID_key_usage,
                               "critical,digitalSignature"));
  if (spec.server_auth || spec.client_auth) {
    const char* usage = spec.server_auth && spec.client_auth
                            ? "serverAuth,clientAuth"
                            : (spec.server_auth ? "serverAuth" : "clientAuth");
    RETURN_IF_ERROR(
        AddExtension(cert.get(), &ctx, NID_ext_key_usage, usage));
  }
  RETURN_IF_ERROR(AddExtension(cert.get(), &ctx, NID_subject_key_identifier,
                               "hash"));
  RETURN_IF_ERROR(AddExtension(cert.get(), &ctx,
                               NID_authority_key_identifier, "keyid:always"));
  RETURN_IF_ERROR(AddSubjectAltNames(cert.get(), spec));
  RETURN_IF_ERROR(Sign(cert.get(), key_.get()));

  ASSIGN_OR_RETURN(std::string key_pem, x509::PrivateKeyToPem(key.get()));
  ASSIGN_OR_RETURN(std::string cert_pem, x509::CertificateToPem(cert.get()));

  IndexEntry entry;
  entry.serial = issued.serial;
  absl::StatusOr<PrincipalName> principal = CertificatePrincipal(cert.get());
  entry.kind = principal.ok() ? std::string(KindName(principal->kind)) : "other";
  entry.principal =
      spec.uri_sans.empty() ? "-" : absl::StrJoin(spec.uri_sans, " ");
  entry.subject = x509::SubjectLine(cert.get());
  entry.not_before = not_before;
  entry.not_after = not_after;

  RETURN_IF_ERROR(MakeDirectory(out_dir, fs::perms::owner_all));
  entry.cert_path = IndexPath(dir_, out_dir, spec.label + ".crt");
  std::vector<IndexEntry> entries = entries_;
  entries.push_back(entry);

  absl::Status written = WriteFileAtomic(issued.key_path, key_pem, 0600);
  if (written.ok()) {
    written = WriteFileAtomic(issued.cert_path, cert_pem, 0644);
  }
  if (written.ok()) written = WriteIndex(entries);
  if (!written.ok()) {
    ::unlink(issued.key_path.c_str());
    ::unlink(issued.cert_path.c_str());
    return written;
  }
  entries_ = std::move(entries);
  issued.not_before = not_before;
  issued.not_after = not_after;
  return issued;
}

absl::StatusOr<IndexEntry> CertificateAuthority::Revoke(
    absl::string_view serial, RevocationReason reason, absl::Time now) {
  ASSIGN_OR_RETURN(const std::string wanted, x509::NormalizeSerial(serial));
  ASSIGN_OR_RETURN(DirectoryLock lock, DirectoryLock::Acquire(dir_));
  RETURN_IF_ERROR(ReloadIndex());
  std::vector<IndexEntry> entries = entries_;
  for (IndexEntry& e : entries) {
    if (e.serial != wanted) continue;
    if (e.revoked) {
      return absl::FailedPreconditionError(absl::StrCat(
          "certificate ", e.serial, " (", e.principal,
          ") was already revoked on ", Rfc3339(e.revoked_at),
          " (", ReasonName(e.reason), ")"));
    }
    e.revoked = true;
    e.revoked_at = absl::FromTimeT(absl::ToTimeT(now));
    e.reason = reason;
    IndexEntry revoked = e;
    RETURN_IF_ERROR(WriteIndex(entries));
    entries_ = std::move(entries);
    return revoked;
  }
  return absl::NotFoundError(absl::StrCat(
      "this CA (", dir_, ") never issued a certificate with serial ", wanted,
      "; `liaison-certs list` shows the serials it did"));
}

namespace {

// The CRL for `entries`, signed by `key`. See CrlPem for its contents.
absl::StatusOr<std::string> BuildCrl(const X509* ca, EVP_PKEY* key,
                                     const std::vector<IndexEntry>& entries,
                                     uint64_t number, absl::Time this_update,
                                     absl::Time next_update, size_t* listed) {
  x509::CrlPtr crl(X509_CRL_new());
  if (!crl || X509_CRL_set_version(crl.get(), X509_CRL_VERSION_2) != 1 ||
      X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(ca)) != 1) {
    return OpenSslError("X509_CRL_new");
  }
  ASSIGN_OR_RETURN(AsnTimePtr last, NewTime(this_update));
  ASSIGN_OR_RETURN(AsnTimePtr next, NewTime(next_update));
  if (X509_CRL_set1_lastUpdate(crl.get(), last.get()) != 1 ||
      X509_CRL_set1_nextUpdate(crl.get(), next.get()) != 1) {
    return OpenSslError("setting CRL dates");
  }
  *listed = 0;
  for (const IndexEntry& e : entries) {
    if (!e.revoked) continue;
    RevokedPtr revoked(X509_REVOKED_new());
    BIGNUM* raw = nullptr;
    if (!revoked || BN_hex2bn(&raw, e.serial.c_str()) == 0) {
      return OpenSslError(absl::StrCat("CRL entry for ", e.serial));
    }
    BnPtr serial(raw);
    AsnIntegerPtr serial_asn(BN_to_ASN1_INTEGER(serial.get(), nullptr));
    ASSIGN_OR_RETURN(AsnTimePtr when, NewTime(e.revoked_at));
    if (!serial_asn ||
        X509_REVOKED_set_serialNumber(revoked.get(), serial_asn.get()) != 1 ||
        X509_REVOKED_set_revocationDate(revoked.get(), when.get()) != 1) {
      return OpenSslError(absl::StrCat("CRL entry for ", e.serial));
    }
    if (e.reason != RevocationReason::kUnspecified) {
      AsnEnumeratedPtr code(ASN1_ENUMERATED_new());
      if (!code ||
          ASN1_ENUMERATED_set(code.get(), static_cast<long>(e.reason)) != 1 ||
          X509_REVOKED_add1_ext_i2d(revoked.get(), NID_crl_reason, code.get(),
                                    0, X509V3_ADD_DEFAULT) != 1) {
        return OpenSslError(absl::StrCat("reason code for ", e.serial));
      }
    }
    if (X509_CRL_add0_revoked(crl.get(), revoked.get()) != 1) {
      return OpenSslError(absl::StrCat("CRL entry for ", e.serial));
    }
    revoked.release();
    ++*listed;
  }
  if (X509_CRL_sort(crl.get()) != 1) return OpenSslError("X509_CRL_sort");

  AsnIntegerPtr crl_number(ASN1_INTEGER_new());
  if (!crl_number || ASN1_INTEGER_set_uint64(crl_number.get(), number) != 1 ||
      X509_CRL_add1_ext_i2d(crl.get(), NID_crl_number, crl_number.get(), 0,
                            X509V3_ADD_DEFAULT) != 1) {
    return OpenSslError("adding the CRL number");
  }
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, const_cast<X509*>(ca), nullptr, nullptr, crl.get(), 0);
  ExtensionPtr akid(X509V3_EXT_nconf_nid(nullptr, &ctx,
                                         NID_authority_key_identifier,
                                         "keyid:always"));
  if (!akid || X509_CRL_add_ext(crl.get(), akid.get(), -1) != 1) {
    return OpenSslError("adding the CRL authorityKeyIdentifier");
  }
  if (X509_CRL_sign(crl.get(), key, EVP_sha256()) <= 0) {
    return OpenSslError("signing the CRL");
  }
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509_CRL(bio.get(), crl.get()) != 1) {
    return OpenSslError("PEM encoding the CRL");
  }
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

}  // namespace

absl::StatusOr<std::string> CertificateAuthority::CrlPem(
    absl::Time now, absl::Duration next_update, CrlSummary* summary) {
  ASSIGN_OR_RETURN(DirectoryLock lock, DirectoryLock::Acquire(dir_));
  return CrlPemLocked(now, next_update, summary);
}

absl::StatusOr<std::string> CertificateAuthority::CrlPemLocked(
    absl::Time now, absl::Duration next_update, CrlSummary* summary) {
  if (next_update <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("the CRL's next update must be later "
                                      "than its last update");
  }
  RETURN_IF_ERROR(ReloadIndex());
  const std::string number_path = FilePath(kCrlNumber);
  ASSIGN_OR_RETURN(const uint64_t number, ReadCrlNumber(number_path));
  CrlSummary out;
  out.number = number;
  out.this_update = absl::FromTimeT(absl::ToTimeT(now));
  out.next_update = absl::FromTimeT(absl::ToTimeT(now + next_update));
  ASSIGN_OR_RETURN(std::string pem,
                   BuildCrl(cert_.get(), key_.get(), entries_, number,
                            out.this_update, out.next_update, &out.revoked));
  // Consume the number before anyone sees the CRL, so no two CRLs share one.
  RETURN_IF_ERROR(WriteFileAtomic(
      number_path, absl::StrCat(number + 1, "\n"), 0644));
  if (summary != nullptr) *summary = out;
  return pem;
}

absl::StatusOr<CrlSummary> CertificateAuthority::WriteCrl(
    const std::string& path, absl::Time now, absl::Duration next_update) {
  ASSIGN_OR_RETURN(DirectoryLock lock, DirectoryLock::Acquire(dir_));
  CrlSummary summary;
  ASSIGN_OR_RETURN(std::string pem, CrlPemLocked(now, next_update, &summary));
  RETURN_IF_ERROR(WriteFileAtomic(path, pem, 0644));
  return summary;
}

}  // namespace liaison::certs

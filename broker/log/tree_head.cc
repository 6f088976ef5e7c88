#include "broker/log/tree_head.h"

#include <openssl/pem.h>
#include <openssl/sha.h>

#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "broker/basics/files.h"
#include "broker/basics/status_macros.h"
#include "broker/log/message_util.h"

namespace liaison {
namespace {

constexpr absl::string_view kSigningPrefix = "liaison-tree-head-v1\n";
constexpr size_t kKeySize = 32;
constexpr size_t kSignatureSize = 64;

struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;

void AppendBigEndian(uint64_t v, int bytes, std::string* out) {
  for (int i = bytes - 1; i >= 0; --i) {
    out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
}

absl::StatusOr<std::string> RawPublicKey(EVP_PKEY* key) {
  std::string raw(kKeySize, '\0');
  size_t len = raw.size();
  if (EVP_PKEY_get_raw_public_key(
          key, reinterpret_cast<unsigned char*>(raw.data()), &len) != 1 ||
      len != kKeySize) {
    return absl::InvalidArgumentError(
        absl::StrCat("not an Ed25519 key: ", x509::OpenSslErrors()));
  }
  return raw;
}

}  // namespace

std::string TreeHeadSigningInput(const v1::TreeHead& head) {
  std::string input(kSigningPrefix);
  AppendBigEndian(head.tree_size(), 8, &input);
  input += head.root_hash();
  AppendBigEndian(static_cast<uint64_t>(head.time().seconds()), 8, &input);
  AppendBigEndian(static_cast<uint32_t>(head.time().nanos()), 4, &input);
  return input;
}

std::string LogKeyId(absl::string_view public_key) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(public_key.data()),
         public_key.size(), digest);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), 8));
}

absl::Status VerifyTreeHead(const v1::TreeHead& head,
                            absl::string_view public_key) {
  if (public_key.size() != kKeySize) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the public key has ", public_key.size(), " bytes, not 32"));
  }
  if (head.root_hash().size() != 32) {
    return absl::FailedPreconditionError(
        absl::StrCat("the tree head's root has ", head.root_hash().size(),
                     " bytes, not 32"));
  }
  if (head.signature().size() != kSignatureSize) {
    return absl::FailedPreconditionError(
        absl::StrCat("the tree head's signature has ", head.signature().size(),
                     " bytes, not 64"));
  }
  const std::string id = LogKeyId(public_key);
  if (head.key_id() != id) {
    return absl::FailedPreconditionError(
        absl::StrCat("the tree head was signed by key ", head.key_id(),
                     ", not by the given key ", id));
  }
  x509::KeyPtr key(EVP_PKEY_new_raw_public_key(
      EVP_PKEY_ED25519, nullptr,
      reinterpret_cast<const unsigned char*>(public_key.data()),
      public_key.size()));
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (key == nullptr || ctx == nullptr ||
      EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) !=
          1) {
    return absl::InternalError(
        absl::StrCat("cannot set up verification: ", x509::OpenSslErrors()));
  }
  const std::string input = TreeHeadSigningInput(head);
  if (EVP_DigestVerify(
          ctx.get(),
          reinterpret_cast<const unsigned char*>(head.signature().data()),
          head.signature().size(),
          reinterpret_cast<const unsigned char*>(input.data()),
          input.size()) != 1) {
    x509::OpenSslErrors();  // drain
    return absl::FailedPreconditionError(
        absl::StrCat("the signature on the tree head for ", head.tree_size(),
                     " entries does not verify with key ", id));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadLogPublicKeyFile(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  if (absl::StrContains(text, "-----BEGIN PUBLIC KEY-----")) {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(
        BIO_new_mem_buf(text.data(), static_cast<int>(text.size())), &BIO_free);
    x509::KeyPtr key(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
    if (key == nullptr || EVP_PKEY_id(key.get()) != EVP_PKEY_ED25519) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": not an Ed25519 public key in PEM"));
    }
    return RawPublicKey(key.get());
  }
  std::string raw;
  if (!absl::Base64Unescape(absl::StripAsciiWhitespace(text), &raw) ||
      raw.size() != kKeySize) {
    return absl::InvalidArgumentError(absl::StrCat(
        path,
        ": expected an Ed25519 public key in PEM, or 32 bytes in base64"));
  }
  return raw;
}

absl::StatusOr<LogSigner> LogSigner::LoadOrCreate(
    const std::string& key_path, const std::string& public_path) {
  absl::StatusOr<x509::KeyPtr> loaded = x509::ReadPrivateKeyFile(key_path);
  if (loaded.ok()) {
    if (EVP_PKEY_id(loaded->get()) != EVP_PKEY_ED25519) {
      return absl::FailedPreconditionError(
          absl::StrCat(key_path, " is not an Ed25519 key"));
    }
    ASSIGN_OR_RETURN(std::string raw, RawPublicKey(loaded->get()));
    return LogSigner(std::move(*loaded), std::move(raw));
  }
  if (!absl::IsNotFound(loaded.status())) return loaded.status();

  x509::KeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  if (key == nullptr) {
    return absl::InternalError(absl::StrCat("cannot make the log signing key: ",
                                            x509::OpenSslErrors()));
  }
  ASSIGN_OR_RETURN(std::string raw, RawPublicKey(key.get()));
  ASSIGN_OR_RETURN(std::string pem, x509::PrivateKeyToPem(key.get()));
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()),
                                                &BIO_free);
  if (bio == nullptr || PEM_write_bio_PUBKEY(bio.get(), key.get()) != 1) {
    return absl::InternalError(
        absl::StrCat("cannot write the public key: ", x509::OpenSslErrors()));
  }
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  // The public half first: a crash between the two leaves no key that
  // signs heads nobody can check.
  RETURN_IF_ERROR(WriteFileAtomic(
      public_path, absl::string_view(data, static_cast<size_t>(len)), 0644));
  RETURN_IF_ERROR(WriteFileAtomic(key_path, pem, 0600));
  return LogSigner(std::move(key), std::move(raw));
}

LogSigner::LogSigner(x509::KeyPtr key, std::string public_key)
    : key_(key.release(), x509::PkeyFree()),
      public_key_(std::move(public_key)),
      key_id_(LogKeyId(public_key_)) {}

absl::StatusOr<v1::TreeHead> LogSigner::Sign(uint64_t size,
                                             absl::string_view root,
                                             absl::Time time) const {
  v1::TreeHead head;
  head.set_tree_size(size);
  head.set_root_hash(std::string(root));
  SetTime(head.mutable_time(), time);
  head.set_key_id(key_id_);
  const std::string input = TreeHeadSigningInput(head);
  MdCtxPtr ctx(EVP_MD_CTX_new());
  std::string signature(kSignatureSize, '\0');
  size_t len = signature.size();
  if (ctx == nullptr ||
      EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key_.get()) !=
          1 ||
      EVP_DigestSign(ctx.get(),
                     reinterpret_cast<unsigned char*>(signature.data()), &len,
                     reinterpret_cast<const unsigned char*>(input.data()),
                     input.size()) != 1) {
    return absl::InternalError(
        absl::StrCat("cannot sign the tree head: ", x509::OpenSslErrors()));
  }
  head.set_signature(std::move(signature));
  return head;
}

}  // namespace liaison

#include "certs/certs_help.h"

namespace liaison::certs {

const char kGeneralHelp[] =
    R"(liaison-certs: the administrator's tool for a Liaison deployment's private CA.

Usage: liaison-certs [--dir=DIR] COMMAND [ARGUMENTS] [FLAGS]

Commands:
  init      create the CA
  issue     issue a certificate and key for an agency, auditor, admin or server
  renew     issue a successor for a certificate; both work until the old is revoked
  revoke    mark a certificate revoked
  crl       write a signed certificate revocation list
  list      show the certificates the CA has issued
  inspect   show what a certificate file contains
  help      show help for a command

Global flag:
  --dir=DIR   the CA directory (default: $LIAISON_CA_DIR, else ./liaison-ca)

Run `liaison-certs help COMMAND` or `liaison-certs COMMAND --help` for details.
)";

const std::vector<Command>& Commands() {
  static const auto* commands = new std::vector<Command>{
      {"init",
       {"cn", "days"},
       R"(Usage: liaison-certs [--dir=DIR] init [--cn=NAME] [--days=N]

Creates the deployment CA in DIR: an EC P-256 key (ca.key, mode 0600), a
self-signed CA certificate (ca.crt), an empty index (index.tsv), the CRL
counter (crlnumber) and the issued/ folder. DIR is created if missing and set
to mode 0700. Refuses if DIR already holds a CA.

Whoever holds ca.key can impersonate any agency: back DIR up and keep it
where only administrators can read it.

Flags:
  --cn=NAME   common name of the CA certificate (default "Liaison deployment CA")
  --days=N    validity in days (default 3650)
)"},
      {"issue",
       {"sector", "id", "days", "not_before", "out", "force", "dns", "ip"},
       R"(Usage:
  liaison-certs [--dir=DIR] issue agency --sector=SECTOR --id=ID [FLAGS]
  liaison-certs [--dir=DIR] issue auditor --id=ID [FLAGS]
  liaison-certs [--dir=DIR] issue admin --id=ID [FLAGS]
  liaison-certs [--dir=DIR] issue server --id=ID --dns=NAME[,NAME] [--ip=ADDR[,ADDR]] [FLAGS]

Issues a certificate and a fresh EC P-256 key. The certificate names its
principal in its only URI SAN:
  agency    liaison://agency/SECTOR/ID   for client authentication
  auditor   liaison://auditor/ID         for client authentication
  admin     liaison://admin/ID           for client authentication
  server    liaison://broker/ID          for server and client authentication,
            plus the DNS names and IP addresses agencies reach the broker at
The files are FOLDER/KIND-ID.crt and FOLDER/KIND-ID.key (mode 0600). A
principal must also be registered with the broker before it can act.

Flags:
  --sector=SECTOR     agency only: 1-32 of a-z, 0-9 and '_', starting with a letter
  --id=ID             1-64 of a-z, 0-9, '.', '_' and '-', starting with a letter
                      or digit; also the certificate's common name
  --dns=NAME[,NAME]   server only: DNS names (at least one --dns or --ip)
  --ip=ADDR[,ADDR]    server only: IPv4 or IPv6 addresses
  --days=N            validity in days (default 365)
  --not_before=TIME   start of validity in RFC 3339, e.g. 2020-01-01T00:00:00Z
                      (default now)
  --out=FOLDER        where to write the files (default DIR/issued)
  --force             replace existing files of the same name; the certificate
                      they held stays valid until revoked

Prints serial, principal, certificate, key and not_after, one per line.
)"},
      {"renew",
       {"days", "out", "force"},
       R"(Usage: liaison-certs [--dir=DIR] renew SERIAL|CERT_FILE [--days=N] [--out=FOLDER]

Issues a successor for a certificate this CA issued: the same principal
(and, for a server, the same DNS names and IP addresses), a fresh EC P-256
key, valid from now. The old certificate is left as it is, so both work
during the overlap while the new one is installed. Name the old one by its
serial, as `liaison-certs list` prints it, or by its certificate file. A
revoked certificate is not renewed: issue a new one.

The files are FOLDER/KIND-ID-renewed-YYYYMMDDTHHMMSSZ.crt and .key (mode
0600; "-2" and so on is added for a second renewal within the second), so
the old files, still in use, are not touched.

Then:
  1. install the new certificate and key where the old ones are used (for
     the broker's own, point tls_cert and tls_key at them and send SIGHUP);
  2. if the agency has bound serials, bind the new one:
     liaison admin bind AGENCY_ID NEW_SERIAL
  3. once the new one is in use, revoke the old one and publish a CRL:
     liaison-certs revoke OLD_SERIAL --reason=superseded && liaison-certs crl
     and have the broker reload it (SIGHUP or `liaison admin reload-crl`).

Flags:
  --days=N       validity in days (default: as long as the old one's)
  --out=FOLDER   where to write the files (default DIR/issued)
  --force        replace existing files of the same name

Prints renewed (the old serial), serial, principal, certificate, key and
not_after, one per line, then the steps above with the serials filled in.
)"},
      {"revoke",
       {"reason"},
       R"(Usage: liaison-certs [--dir=DIR] revoke SERIAL|CERT_FILE [--reason=REASON]

Marks a certificate this CA issued as revoked. Name it by its serial, as
`liaison-certs list` prints it, or by its certificate file. The broker learns
of it only from the next CRL: run `liaison-certs crl` afterwards and install
the CRL where the broker reads it (the broker reloads it on SIGHUP).

Flags:
  --reason=REASON   unspecified (default), key_compromise, superseded,
                    affiliation_changed or cessation_of_operation
)"},
      {"crl",
       {"out", "days"},
       R"(Usage: liaison-certs [--dir=DIR] crl [--out=FILE] [--days=N]

Writes a certificate revocation list signed by the CA, listing every revoked
certificate and carrying the next CRL number. Write and install a new one
after every revocation and before the current one's next update passes.

Flags:
  --out=FILE   where to write it (default DIR/crl.pem)
  --days=N     days until its next update (default 7)

Prints the file written, the CRL number and how many certificates it lists.
)"},
      {"list",
       {"expiring"},
       R"(Usage: liaison-certs [--dir=DIR] list [--expiring[=DAYS]]

Shows every certificate the CA has issued as a table:
  SERIAL  STATUS  NOT_AFTER  PRINCIPAL
where STATUS is VALID, REVOKED or EXPIRED.

Flags:
  --expiring[=DAYS] only valid certificates that expire within DAYS days
                    (default 30), soonest first (none found is not an error)
)"},
      {"inspect",
       {},
       R"(Usage: liaison-certs inspect CERT_FILE

Shows a certificate's subject, issuer, serial, validity, URI/DNS/IP SANs and
key type, and whether its one URI SAN names a valid Liaison principal. When
DIR holds a CA, also says whether that CA signed it.

Exits 1 when the certificate does not name exactly one valid Liaison
principal, after showing what it contains.
)"},
      {"help",
       {},
       R"(Usage: liaison-certs help [COMMAND]

Shows the list of commands, or the help of COMMAND.
)"},
  };
  return *commands;
}

const Command* FindCommand(absl::string_view name) {
  for (const Command& c : Commands()) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

}  // namespace liaison::certs

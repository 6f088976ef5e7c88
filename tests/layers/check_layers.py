#!/usr/bin/python3
"""Checks that includes between Liaison's rooms go one way (DESIGN.md
section 10):

    basics <- log <- policy <- store <- the broker's services

The clients use the basics, the log library and the generated API, never
the broker's services or store; certs uses only the basics. Unit tests
(`*_test.cc`) and test support (`*_testing.h`) may also use the rooms above
theirs, to run with real parts, but nothing else may include test support.

Usage: check_layers.py [SOURCE_DIR]      check the tree (default: here)
       check_layers.py --self-test       show that a broken arrow is caught
Exits 1 and names every include that breaks an arrow.
"""

import os
import re
import sys
import tempfile

# Longest prefix first.
ROOMS = [
    ("broker/basics/", "basics"),
    ("broker/log/", "log"),
    ("broker/store/", "store"),
    ("broker/", "services"),
    ("policy/", "policy"),
    ("clients/", "clients"),
    ("certs/", "certs"),
    ("tests/", "tests"),
]

ALLOWED = {
    "basics": {"basics"},
    "log": {"basics", "log"},
    "policy": {"basics", "log", "policy"},
    "store": {"basics", "log", "policy", "store"},
    "services": {"basics", "log", "policy", "store", "services"},
    "clients": {"basics", "log", "clients"},
    "certs": {"basics", "certs"},
    "tests": {r for _, r in ROOMS},
}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def room_of(path):
    for prefix, room in ROOMS:
        if path.startswith(prefix):
            return room
    return None


def is_test_source(path):
    return path.endswith("_test.cc") or path.endswith("_testing.h")


def violations(root):
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".") and
                   not d.startswith("build")]
        for name in sorted(files):
            if not name.endswith((".h", ".cc")):
                continue
            path = os.path.relpath(os.path.join(folder, name), root)
            room = room_of(path)
            if room is None:
                continue
            with open(os.path.join(root, path), encoding="utf-8") as f:
                for number, line in enumerate(f, 1):
                    m = INCLUDE.match(line)
                    if not m:
                        continue
                    target = m.group(1)
                    target_room = room_of(target)
                    if target_room is None:
                        continue  # generated API, third-party
                    where = f"{path}:{number}: includes {target}"
                    if is_test_source(target) and not is_test_source(path) \
                            and room != "tests":
                        found.append(f"{where}: test support in a "
                                     f"non-test source")
                    elif is_test_source(path):
                        continue
                    elif target_room not in ALLOWED[room]:
                        found.append(f"{where}: {room} may use only "
                                     f"{', '.join(sorted(ALLOWED[room]))}")
    return found


def self_test():
    with tempfile.TemporaryDirectory() as root:
        def write(path, text):
            os.makedirs(os.path.dirname(os.path.join(root, path)),
                        exist_ok=True)
            with open(os.path.join(root, path), "w") as f:
                f.write(text)
        write("broker/basics/ok.h", '#include "liaison/v1/common.pb.h"\n')
        write("broker/log/ok.cc", '#include "broker/basics/ok.h"\n')
        if violations(root):
            print("self-test: a clean tree was reported")
            return 1
        write("clients/bad.cc", '#include "broker/store/store.h"\n')
        write("broker/basics/bad.h", '#include "broker/log/ok.h"\n')
        write("certs/bad.cc", '#include "policy/policy_set.h"\n')
        write("broker/x.cc", '#include "broker/store/sqlite/sqlite_testing.h"\n')
        found = violations(root)
        if len(found) != 4:
            print("self-test: expected 4 broken arrows, found:")
            print("\n".join(found))
            return 1
    print("self-test: broken arrows are caught")
    return 0


def main(argv):
    if len(argv) > 1 and argv[1] in ("-h", "--help"):
        print(__doc__)
        return 0
    if len(argv) > 1 and argv[1] == "--self-test":
        return self_test()
    root = argv[1] if len(argv) > 1 else "."
    found = violations(root)
    for v in found:
        print(v)
    if found:
        print(f"{len(found)} include(s) break the direction of the arrows "
              f"(DESIGN.md section 10)")
        return 1
    print("every include follows the arrows")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

"""Client-side sharding with pylibmc (libmemcached) and ketama consistent hashing.

`ketama: True` selects libmemcached's ketama continuum with MD5 (the same placement as
other ketama clients, e.g. spymemcached in KETAMA mode); `remove_failed` drops a server
from the continuum after that many failures. Run:
python3 pylibmc_ketama.py 127.0.0.1:11211 127.0.0.1:11212 127.0.0.1:11213
"""
import sys

import pylibmc

BEHAVIORS = {
    "ketama": True,
    "tcp_nodelay": True,
    "connect_timeout": 1000,
    "remove_failed": 1,
    "retry_timeout": 2,
}


def client(servers):
    return pylibmc.Client(servers, binary=False, behaviors=BEHAVIORS)


if __name__ == "__main__":
    c = client(sys.argv[1:] or ["127.0.0.1:11211", "127.0.0.1:11212", "127.0.0.1:11213"])
    c.set("greeting", b"hello")
    print(c.get("greeting"))

"""Client-side sharding with pymemcache's HashClient over three slabd instances.

HashClient places keys with rendezvous hashing; a dead node is ignored for
`dead_timeout` seconds after `retry_attempts` failures, so reads of its keys miss
instead of failing. Run: python3 pymemcache_hashclient.py 127.0.0.1:11211 ...
"""
import sys

from pymemcache.client.hash import HashClient


def client(servers):
    nodes = [(h, int(p)) for h, p in (s.rsplit(":", 1) for s in servers)]
    return HashClient(nodes, connect_timeout=1, timeout=1, retry_attempts=1,
                      dead_timeout=5, ignore_exc=True, use_pooling=False)


if __name__ == "__main__":
    c = client(sys.argv[1:] or ["127.0.0.1:11211", "127.0.0.1:11212", "127.0.0.1:11213"])
    c.set("greeting", b"hello")
    print(c.get("greeting"))

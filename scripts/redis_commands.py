"""What the generators (gen-acl-catalog.py, gen-command-docs.py) read the same way from
Redis 7.0's command JSON files: the ACL categories, in Redis's order."""

CATEGORIES = ["keyspace", "read", "write", "set", "sortedset", "list", "hash", "string",
              "bitmap", "hyperloglog", "geo", "stream", "pubsub", "admin", "fast", "slow",
              "blocking", "dangerous", "connection", "transaction", "scripting"]


def categories(cmd):
    """The command's ACL categories in CATEGORIES order: its explicit ones plus those Redis
    derives from its flags (server.c: setImplicitACLCategories)."""
    cats = {c.lower() for c in cmd.get("acl_categories", [])}
    flags = set(cmd.get("command_flags", []))
    if "WRITE" in flags:
        cats.add("write")
    if "READONLY" in flags and "scripting" not in cats:
        cats.add("read")
    if "ADMIN" in flags:
        cats |= {"admin", "dangerous"}
    if "PUBSUB" in flags:
        cats.add("pubsub")
    if "FAST" in flags:
        cats.add("fast")
    if "BLOCKING" in flags:
        cats.add("blocking")
    if "fast" not in cats:
        cats.add("slow")
    return [c for c in CATEGORIES if c in cats]

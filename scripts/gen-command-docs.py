#!/usr/bin/env python3
"""Writes src/commands/resp/command_docs.txt from Redis 7.0's command JSON files.

Usage: scripts/gen-command-docs.py REDIS_SRC/src/commands > src/commands/resp/command_docs.txt

The file holds, for every Redis command and subcommand, the parts of its COMMAND INFO and
COMMAND DOCS replies that slabd's command table does not have, as Redis 7.0.15 builds them
(server.c: addReplyCommandInfo, addReplyCommandDocs and the functions they call; the
implicit flags and ACL categories of populateCommandStructure). One reply a line, its
elements separated by tabs:

    @info NAME   a command: its tips, key specs and subcommands (the last 3 of the 10
                 elements); a subcommand (`object|encoding`): all 10
    @head NAME   a container (CLIENT, OBJECT, ...): the first 7 (its own flags, no keys)
    @docs NAME   the map COMMAND DOCS gives for it
    *N %N ~N     array, map, set of N elements (in RESP2 a map is an array of 2N)
    $TEXT :N +TEXT   bulk string, integer, status

Subcommands come in name order (Redis's come in hash-table order, which changes per process).
"""
import glob
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import redis_commands  # noqa: E402

# addReplyFlagsForCommand's order (may_replicate, sentinel, only_sentinel, protected and
# touches_arbitrary_keys are hidden).
COMMAND_FLAGS = ["write", "readonly", "denyoom", "module", "admin", "pubsub", "noscript",
                 "blocking", "loading", "stale", "skip_monitor", "skip_slowlog", "asking",
                 "fast", "no_auth", "no_mandatory_keys", "no_async_loading", "no_multi",
                 "movablekeys", "allow_busy"]
KEY_FLAGS = [("RO", "RO"), ("RW", "RW"), ("OW", "OW"), ("RM", "RM"), ("ACCESS", "access"),
             ("UPDATE", "update"), ("INSERT", "insert"), ("DELETE", "delete"),
             ("NOT_KEY", "not_key"), ("INCOMPLETE", "incomplete"),
             ("VARIABLE_FLAGS", "variable_flags")]
DOC_FLAGS = [("DEPRECATED", "deprecated"), ("SYSCMD", "syscmd")]
GROUPS = {"sorted_set": "sorted-set"}

out = []


def line(kind, value):
    text = str(value)
    assert not any(c in text for c in "\t\r\n"), text
    if kind.startswith("@"):
        out.append([kind + text])
    else:
        out[-1].append(kind + text)


def status_set(names):
    line("~", len(names))
    for n in names:
        line("+", n)


def categories(cmd):
    return ["@" + c for c in redis_commands.categories(cmd)]


def legacy_range(specs):
    """populateCommandLegacyRangeSpec: (first, last, step) and whether keys are movable."""
    if not specs:
        return (0, 0, 0), False
    plain = [s for s in specs if "index" in s["begin_search"] and "range" in s["find_keys"]]
    if len(specs) == 1 and plain:
        s = specs[0]
        r = s["find_keys"]["range"]
        first = s["begin_search"]["index"]["pos"]
        last = r["lastkey"] + first if r["lastkey"] >= 0 else r["lastkey"]
        return (first, last, r["step"]), "INCOMPLETE" in s["flags"]
    movable = False
    first, last, prev = None, 0, 0
    for s in specs:
        if "index" not in s["begin_search"] or "range" not in s["find_keys"]:
            movable = True
            continue
        pos, r = s["begin_search"]["index"]["pos"], s["find_keys"]["range"]
        if r["step"] != 1 or (prev and prev != pos - 1):
            movable = True
            continue
        if "INCOMPLETE" in s["flags"]:
            movable = True
        first = pos if first is None else min(first, pos)
        absolute = r["lastkey"] + pos if r["lastkey"] >= 0 else r["lastkey"]
        last = max(last % (1 << 32), absolute % (1 << 32))
        last = last - (1 << 32) if last >= 1 << 31 else last
        prev = last
    if first is None:
        return (0, 0, 0), True
    return (first, last, 1), movable


def key_spec(s):
    line("%", 4 if s.get("notes") else 3)
    if s.get("notes"):
        line("$", "notes")
        line("$", s["notes"])
    line("$", "flags")
    status_set([name for flag, name in KEY_FLAGS if flag in s["flags"]])
    line("$", "begin_search")
    line("%", 2)
    line("$", "type")
    bs = s["begin_search"]
    if "index" in bs:
        line("$", "index")
        line("$", "spec")
        line("%", 1)
        line("$", "index")
        line(":", bs["index"]["pos"])
    elif "keyword" in bs:
        line("$", "keyword")
        line("$", "spec")
        line("%", 2)
        line("$", "keyword")
        line("$", bs["keyword"]["keyword"])
        line("$", "startfrom")
        line(":", bs["keyword"]["startfrom"])
    else:
        line("$", "unknown")
        line("$", "spec")
        line("%", 0)
    line("$", "find_keys")
    line("%", 2)
    line("$", "type")
    fk = s["find_keys"]
    if "range" in fk:
        r = fk["range"]
        line("$", "range")
        line("$", "spec")
        line("%", 3)
        for k, v in (("lastkey", r["lastkey"]), ("keystep", r["step"]), ("limit", r["limit"])):
            line("$", k)
            line(":", v)
    elif "keynum" in fk:
        k = fk["keynum"]
        line("$", "keynum")
        line("$", "spec")
        line("%", 3)
        for n, v in (("keynumidx", k["keynumidx"]), ("firstkey", k["firstkey"]),
                     ("keystep", k["step"])):
            line("$", n)
            line(":", v)
    else:
        line("$", "unknown")
        line("$", "spec")
        line("%", 0)


def info_tail(cmd, subs):
    tips = [t.lower() for t in cmd.get("command_tips", [])]
    line("~", len(tips))
    for t in tips:
        line("$", t)
    specs = cmd.get("key_specs", [])
    line("~", len(specs))
    for s in specs:
        key_spec(s)
    if not subs:
        line("~", 0)
        return
    line("*", len(subs))
    for full, sub in subs:
        info_full(full, sub)


def info_full(full, cmd):
    line("*", 10)
    info_head(full, cmd)
    info_tail(cmd, [])


def info_head(full, cmd):
    (first, last, step), movable = legacy_range(cmd.get("key_specs", []))
    flags = {f.lower() for f in cmd.get("command_flags", [])}
    if movable:
        flags.add("movablekeys")
    line("$", full)
    line(":", cmd["arity"])
    status_set([f for f in COMMAND_FLAGS if f in flags])
    line(":", first)
    line(":", last)
    line(":", step)
    status_set(categories(cmd))


def arguments(args):
    line("*", len(args))
    for a in args:
        flags = [f for f in ("optional", "multiple", "multiple_token") if a.get(f)]
        fields = [("name", a["name"].lower()), ("type", a["type"])]
        if "key_spec_index" in a:
            fields.append(("key_spec_index", a["key_spec_index"]))
        for k in ("token", "summary", "since", "deprecated_since"):
            if a.get(k):
                # commands.c pastes the text between quotes: MIGRATE's token `""` is empty.
                v = a[k].upper() if k == "token" else a[k]
                fields.append((k, "" if v == '""' else v))
        nested = a["type"] in ("oneof", "block")
        line("%", len(fields) + bool(flags) + nested)
        for k, v in fields:
            line("$", k)
            line(":" if k == "key_spec_index" else "$", v)
        if flags:
            line("$", "flags")
            status_set(flags)
        if nested:
            line("$", "arguments")
            arguments(a.get("arguments", []))


def docs(cmd, subs):
    fields = [(k, cmd.get(k)) for k in ("summary", "since")]
    fields.append(("group", GROUPS.get(cmd["group"], cmd["group"])))
    fields.append(("complexity", cmd.get("complexity")))
    fields = [(k, v) for k, v in fields if v]
    doc_flags = [name for flag, name in DOC_FLAGS if flag in cmd.get("doc_flags", [])]
    more = [(k, cmd.get(k)) for k in ("deprecated_since", "replaced_by") if cmd.get(k)]
    history = cmd.get("history") or []
    args = cmd.get("arguments") or []
    line("%", len(fields) + bool(doc_flags) + len(more) + bool(history) + bool(args)
         + bool(subs))
    for k, v in fields:
        line("$", k)
        line("$", v)
    if doc_flags:
        line("$", "doc_flags")
        status_set(doc_flags)
    for k, v in more:
        line("$", k)
        line("$", v)
    if history:
        line("$", "history")
        line("~", len(history))
        for since, change in history:
            line("*", 2)
            line("$", since)
            line("$", change)
    if args:
        line("$", "arguments")
        arguments(args)
    if subs:
        line("$", "subcommands")
        line("%", len(subs))
        for full, sub in subs:
            line("$", full)
            docs(sub, [])


def main():
    top, subs = {}, {}
    for path in sorted(glob.glob(os.path.join(sys.argv[1], "*.json"))):
        for name, cmd in json.load(open(path)).items():
            if "ONLY_SENTINEL" in cmd.get("command_flags", []):
                continue
            if "container" in cmd:
                parent = cmd["container"].lower()
                subs.setdefault(parent, []).append((parent + "|" + name.lower(), cmd))
            else:
                top[name.lower()] = cmd
    for name in sorted(top):
        children = sorted(subs.get(name, []), key=lambda s: s[0])
        if children:
            line("@head ", name)
            info_head(name, top[name])
        line("@info ", name)
        info_tail(top[name], children)
        line("@docs ", name)
        docs(top[name], children)
        for full, sub in children:
            line("@info ", full)
            info_full(full, sub)
            line("@docs ", full)
            docs(sub, [])
    print("# @generated by scripts/gen-command-docs.py from Redis 7.0.15's src/commands/*.json.")
    print("# Do not edit by hand: rerun the script.")
    print("\n".join("\t".join(entry) for entry in out))


main()

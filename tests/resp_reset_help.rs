//! RESET, COMMAND GETKEYS and the HELP replies of CONFIG and COMMAND, with the replies
//! redis-server 7.0.15 gives for the same commands.

mod common;
mod resp_wire;

use resp_wire::{daemon, Resp};

#[test]
fn reset_returns_the_connection_to_its_first_state() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    let mut other = d.connect_resp();
    c.check(&["SELECT", "2"], "+OK\r\n");
    c.check(&["CLIENT", "SETNAME", "x"], "+OK\r\n");
    c.check(&["WATCH", "k"], "+OK\r\n");
    c.check(&["MULTI"], "+OK\r\n");
    c.check(&["SET", "k", "1"], "+QUEUED\r\n");
    // RESET runs at once inside MULTI and ends it.
    c.check(&["RESET"], "+RESET\r\n");
    c.check(&["EXEC"], "-ERR EXEC without MULTI\r\n");
    c.check(&["CLIENT", "GETNAME"], "$-1\r\n");
    c.check(&["SET", "k", "db0"], "+OK\r\n");
    other.check(&["GET", "k"], "$3\r\ndb0\r\n");
    c.check(
        &["SUBSCRIBE", "ch"],
        "*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n",
    );
    c.check(&["RESET"], "+RESET\r\n");
    c.check(&["PING"], "+PONG\r\n");
    other.check(&["PUBLISH", "ch", "m"], ":0\r\n");
}

#[test]
fn command_getkeys_and_help_replies() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    for (args, want) in [
        (
            &["COMMAND", "GETKEYS", "EVAL", "return 1", "2", "a", "b", "c"][..],
            "*2\r\n$1\r\na\r\n$1\r\nb\r\n",
        ),
        (
            &["COMMAND", "GETKEYS", "FCALL", "f", "1", "x", "foo"],
            "*1\r\n$1\r\nx\r\n",
        ),
        (&["COMMAND", "GETKEYS", "EVAL", "x", "5", "a"], "*0\r\n"),
        (
            &["COMMAND", "GETKEYS", "MSET", "a", "1", "b", "2"],
            "*2\r\n$1\r\na\r\n$1\r\nb\r\n",
        ),
        (
            &[
                "COMMAND",
                "GETKEYS",
                "ZUNIONSTORE",
                "d",
                "2",
                "a",
                "b",
                "WEIGHTS",
                "1",
                "2",
            ],
            "*3\r\n$1\r\nd\r\n$1\r\na\r\n$1\r\nb\r\n",
        ),
        (
            &["COMMAND", "GETKEYS", "PING", "x"],
            "-ERR The command has no key arguments\r\n",
        ),
        (
            &["COMMAND", "GETKEYS", "NOSUCH", "x"],
            "-ERR Invalid command specified\r\n",
        ),
        (
            &["COMMAND", "GETKEYS", "GET"],
            "-ERR wrong number of arguments for 'command|getkeys' command\r\n",
        ),
        (
            &["CONFIG", "HELP"],
            "*11\r\n+CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n\
             +GET <pattern>\r\n\
             +    Return parameters matching the glob-like <pattern> and their values.\r\n\
             +SET <directive> <value>\r\n+    Set the configuration <directive> to <value>.\r\n\
             +RESETSTAT\r\n+    Reset statistics reported by the INFO command.\r\n\
             +REWRITE\r\n+    Rewrite the configuration file.\r\n+HELP\r\n\
             +    Prints this help.\r\n",
        ),
    ] {
        c.check(args, want);
    }
    let help = c.cmd(&["COMMAND", "HELP"]);
    assert!(help.starts_with(
        "*21\r\n+COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n\
         +(no subcommand)\r\n"
    ));
}

/// `maxmemory-policy` takes Redis's values that slabd's eviction can follow and says why
/// for the others; CONFIG GET and INFO report it. MEMORY STATS and DOCTOR answer.
#[test]
fn maxmemory_policy_maps_onto_slabds_eviction_and_memory_reports() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    let get = "*2\r\n$16\r\nmaxmemory-policy\r\n";
    c.check(
        &["CONFIG", "GET", "maxmemory-policy"],
        &format!("{get}$11\r\nallkeys-lru\r\n"),
    );
    c.check(
        &["CONFIG", "SET", "maxmemory-policy", "allkeys-random"],
        "+OK\r\n",
    );
    c.check(
        &["CONFIG", "GET", "maxmemory-policy"],
        &format!("{get}$14\r\nallkeys-random\r\n"),
    );
    assert!(c
        .cmd(&["INFO", "memory"])
        .contains("maxmemory_policy:allkeys-random\r\n"));
    c.check(
        &["CONFIG", "SET", "maxmemory-policy", "bad"],
        "-ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy') - argument(s) \
         must be one of the following: volatile-lru, volatile-lfu, volatile-random, \
         volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction\r\n",
    );
    let refused = c.cmd(&["CONFIG", "SET", "maxmemory-policy", "volatile-ttl"]);
    assert!(
        refused.contains("volatile-ttl has no equivalent"),
        "{refused:?}"
    );
    let refused = c.cmd(&["CONFIG", "SET", "maxmemory-policy", "noeviction"]);
    assert!(refused.contains("start it with -M"), "{refused:?}");
    c.check(
        &["CONFIG", "GET", "maxmemory-policy"],
        &format!("{get}$14\r\nallkeys-random\r\n"),
    );
    let mut m = d.connect_resp();
    m.check(&["SET", "k", "v"], "+OK\r\n");
    let stats = m.cmd(&["MEMORY", "STATS"]);
    assert!(
        stats.starts_with("*28\r\n$14\r\npeak.allocated\r\n"),
        "{stats:?}"
    );
    assert!(stats.contains("$10\r\nkeys.count\r\n:1\r\n"), "{stats:?}");
    let doctor = m.cmd(&["MEMORY", "DOCTOR"]);
    assert!(doctor.contains("Hi Sam"), "{doctor:?}");
    m.check(&["MEMORY", "PURGE"], "+OK\r\n");
    let nm = common::Daemon::start(&["--resp-port", "0", "-M"]);
    let mut n = nm.connect_resp();
    n.check(
        &["CONFIG", "SET", "maxmemory-policy", "noeviction"],
        "+OK\r\n",
    );
    n.check(
        &["CONFIG", "GET", "maxmemory-policy"],
        &format!("{get}$10\r\nnoeviction\r\n"),
    );
}

#[test]
fn command_getkeys_finds_a_subcommands_keys() {
    // Replies as redis-server 7.0.15 gives them.
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    for (args, want) in [
        (
            &["COMMAND", "GETKEYS", "OBJECT", "ENCODING", "k"][..],
            "*1\r\n$1\r\nk\r\n",
        ),
        (
            &["COMMAND", "GETKEYS", "object", "freq", "k"],
            "*1\r\n$1\r\nk\r\n",
        ),
        (
            &["COMMAND", "GETKEYS", "MEMORY", "USAGE", "k"],
            "*1\r\n$1\r\nk\r\n",
        ),
        (
            &["COMMAND", "GETKEYS", "MEMORY", "USAGE", "k", "SAMPLES", "5"],
            "*1\r\n$1\r\nk\r\n",
        ),
        (
            &["COMMAND", "GETKEYS", "MEMORY", "USAGE"],
            "-ERR Invalid number of arguments specified for command\r\n",
        ),
        (
            &["COMMAND", "GETKEYS", "OBJECT", "ENCODING", "k", "j"],
            "-ERR Invalid number of arguments specified for command\r\n",
        ),
        (
            &["COMMAND", "GETKEYS", "OBJECT", "HELP"],
            "-ERR The command has no key arguments\r\n",
        ),
        (
            &["COMMAND", "GETKEYS", "MEMORY", "DOCTOR"],
            "-ERR The command has no key arguments\r\n",
        ),
        (
            &["COMMAND", "GETKEYS", "CONFIG", "GET", "x"],
            "-ERR The command has no key arguments\r\n",
        ),
        (
            &["COMMAND", "GETKEYS", "OBJECT", "NOSUCH", "k"],
            "-ERR Invalid command specified\r\n",
        ),
        (
            &["COMMAND", "GETKEYS", "CLIENT", "NOSUCH"],
            "-ERR Invalid command specified\r\n",
        ),
        (
            &["COMMAND", "GETKEYS", "DEBUG", "OBJECT", "k"],
            "-ERR The command has no key arguments\r\n",
        ),
    ] {
        c.check(args, want);
    }
}

#[test]
fn cluster_answers_as_redis_with_cluster_support_disabled() {
    // Replies as redis-server 7.0.15 (cluster-enabled no) gives them.
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    let disabled = "-ERR This instance has cluster support disabled\r\n";
    c.check(&["CLUSTER", "INFO"], disabled);
    c.check(&["cluster", "slots"], disabled);
    c.check(&["CLUSTER", "HELP"], disabled);
    c.check(&["CLUSTER", "KEYSLOT", "x"], disabled);
    c.check(&["CLUSTER", "RESET", "HARD"], disabled);
    c.check(
        &["CLUSTER", "NOSUCH"],
        "-ERR unknown subcommand 'NOSUCH'. Try CLUSTER HELP.\r\n",
    );
    c.check(
        &["CLUSTER", "HELP", "x"],
        "-ERR wrong number of arguments for 'cluster|help' command\r\n",
    );
    c.check(
        &["CLUSTER", "KEYSLOT"],
        "-ERR wrong number of arguments for 'cluster|keyslot' command\r\n",
    );
    c.check(
        &["CLUSTER"],
        "-ERR wrong number of arguments for 'cluster' command\r\n",
    );
    c.check(
        &["COMMAND", "GETKEYS", "CLUSTER", "INFO"],
        "-ERR The command has no key arguments\r\n",
    );
    let listed = c.cmd(&["COMMAND", "LIST", "FILTERBY", "PATTERN", "cluster*"]);
    assert!(listed.starts_with("*28\r\n"), "{listed}");
    assert!(listed.contains("\r\ncluster|help\r\n"), "{listed}");
}

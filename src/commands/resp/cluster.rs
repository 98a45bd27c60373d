//! `CLUSTER ...` as redis-server 7.0 answers it with cluster support disabled (slabd has no
//! cluster mode): a known subcommand with the right argument count gets "This instance has
//! cluster support disabled", an unknown one or a wrong count Redis's usual errors. Clients
//! probe with CLUSTER INFO or CLUSTER SLOTS and fall back to a single node on this error.

use super::registry::{spec, Spec};
use super::Call;
use crate::protocol::resp::Args;

/// This family's commands (see [`super::registry`]).
/// Columns: name, arity, flags, (first key, last key, key step), group, since, summary.
#[rustfmt::skip]
pub(super) static COMMANDS: &[Spec] = &[
    spec!("cluster", -2, [], (0, 0, 0), "cluster", "3.0.0",
        "A container for cluster commands", cluster),
];

/// Redis 7.0.15's CLUSTER subcommands and their arity (argument count including CLUSTER;
/// negative: at least that many).
const SUBCOMMANDS: &[(&str, i32)] = &[
    ("addslots", -3),
    ("addslotsrange", -4),
    ("bumpepoch", 2),
    ("count-failure-reports", 3),
    ("countkeysinslot", 3),
    ("delslots", -3),
    ("delslotsrange", -4),
    ("failover", -2),
    ("flushslots", 2),
    ("forget", 3),
    ("getkeysinslot", 4),
    ("help", 2),
    ("info", 2),
    ("keyslot", 3),
    ("links", 2),
    ("meet", -4),
    ("myid", 2),
    ("nodes", 2),
    ("replicas", 3),
    ("replicate", 3),
    ("reset", -2),
    ("saveconfig", 2),
    ("set-config-epoch", 3),
    ("setslot", -4),
    ("shards", 2),
    ("slaves", 3),
    ("slots", 2),
];

/// `CLUSTER subcommand ...`
pub(super) fn cluster(call: &mut Call<'_>, args: Args<'_>) {
    let sub = args.get(1);
    let Some(&(name, arity)) = SUBCOMMANDS
        .iter()
        .find(|(n, _)| sub.eq_ignore_ascii_case(n.as_bytes()))
    else {
        return call.w.error_fmt(format_args!(
            "ERR unknown subcommand '{}'. Try CLUSTER HELP.",
            String::from_utf8_lossy(&sub[..sub.len().min(128)])
        ));
    };
    let argc = args.len() as i64;
    if (arity > 0 && argc != i64::from(arity)) || argc < -i64::from(arity) {
        return call.wrong_arity(&format!("cluster|{name}"));
    }
    call.w
        .error(b"ERR This instance has cluster support disabled");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::catalog;

    #[test]
    fn subcommands_are_the_catalogs() {
        let catalog: Vec<&str> = catalog::entries()
            .iter()
            .filter_map(|e| e.name.strip_prefix("cluster|"))
            .collect();
        let ours: Vec<&str> = SUBCOMMANDS.iter().map(|(n, _)| *n).collect();
        assert_eq!(ours, catalog);
    }
}

//! `COPY source destination [DB destination-db] [REPLACE]` (Redis 6.2+): any type, with
//! its expiry. The store copies under both keys' stripe locks taken in index order
//! ([`crate::storage::Store::copy`]), so the copy is atomic as a whole; a large collection's
//! heap object is duplicated and charged to the memory budget like any other.

use super::connection::db_index;
use super::registry::{spec, Spec};
use super::Call;
use crate::hub::notify;
use crate::protocol::resp::Args;

/// This family's commands (see [`super::registry`]).
/// Columns: name, arity, flags, (first key, last key, key step), group, since, summary.
#[rustfmt::skip]
pub(super) static COMMANDS: &[Spec] = &[
    spec!("copy", -3, ["write", "denyoom"], (1, 2, 1), "generic", "6.2.0",
        "Copy a key", copy),
];

/// `COPY source destination [DB destination-db] [REPLACE]`
pub(super) fn copy(call: &mut Call<'_>, args: Args<'_>) {
    let db = call.db();
    let mut to_db = db;
    let mut replace = false;
    let mut i = 3;
    while i < args.len() {
        let opt = args.get(i);
        if opt.eq_ignore_ascii_case(b"REPLACE") {
            replace = true;
        } else if opt.eq_ignore_ascii_case(b"DB") && i + 1 < args.len() {
            let arg = args.get(i + 1);
            // Redis reads the index as a C int first, then checks the database range.
            if crate::protocol::resp::parse_i64(arg).is_some_and(|n| i32::try_from(n).is_err()) {
                return call.w.error(
                    b"ERR value is out of range, value must between -2147483648 and 2147483647",
                );
            }
            let Some(n) = db_index(call, arg) else {
                return;
            };
            to_db = n;
            i += 1;
        } else {
            return call.syntax_error();
        }
        i += 1;
    }
    let (key, to_key) = (args.get(1), args.get(2));
    if db == to_db && key == to_key {
        return call
            .w
            .error(b"ERR source and destination objects are the same");
    }
    match call.ctx.store.copy(db, key, to_db, to_key, replace) {
        Ok(copied) => {
            if copied {
                call.ctx.notify(notify::GENERIC, "copy_to", to_db, to_key);
            }
            call.w.integer(i64::from(copied))
        }
        Err(e) => call.rewrite_refused(e),
    }
}

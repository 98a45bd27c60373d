//! CLIENT PAUSE for memcached connections: `ALL` holds every request, `WRITE` the ones
//! that change data, as it holds RESP commands (a parked request waits in its input until
//! CLIENT UNPAUSE or the pause's end, then runs). Binary requests are held the same way.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::commands::{Session, Step};
use crate::hub::{flag, Hub, OnTimeout, Wait};
use crate::protocol::memcache::Command;

/// Whether the request changes data (CLIENT PAUSE WRITE holds it).
fn writes(command: &Command<'_>) -> bool {
    matches!(
        command,
        Command::Store { .. }
            | Command::Delete { .. }
            | Command::Arith { .. }
            | Command::Touch { .. }
            | Command::FlushAll { .. }
            | Command::MetaSet { .. }
            | Command::MetaDelete { .. }
            | Command::MetaArith { .. }
            | Command::Get { touch: Some(_), .. }
    )
}

/// Parks the request while a pause holds it: `Some(Step::Blocked)`. One relaxed load when
/// no pause was ever set.
#[inline]
pub(super) fn held(hub: &Hub, session: &mut Session, command: &Command<'_>) -> Option<Step> {
    if !hub.pause.maybe() {
        return None;
    }
    held_slow(hub, session, writes(command))
}

/// [`held`] for a binary request: `writes` whether it changes data.
#[inline]
pub(super) fn held_binary(hub: &Hub, session: &mut Session, writes: bool) -> Option<Step> {
    if !hub.pause.maybe() {
        return None;
    }
    held_slow(hub, session, writes)
}

#[cold]
fn held_slow(hub: &Hub, session: &mut Session, writes: bool) -> Option<Step> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let (until, writes_only) = hub.pause.active(now)?;
    if writes_only && !writes {
        return None;
    }
    match session.wait.as_mut() {
        // Woken before the pause ended (a re-run right after parking): park again.
        Some(w) => w.woken = false,
        None => {
            session.info.set_flag(flag::PAUSED, true);
            session.wait = Some(Wait {
                keys: Vec::new(),
                deadline: Some(Instant::now() + Duration::from_millis(until - now)),
                on_timeout: OnTimeout::Rerun,
                consumed: 0,
                // Run once more at once, as a RESP command parked by the pause does.
                woken: true,
                armed: false,
            });
            hub.pause.park(session.info.target());
        }
    }
    Some(Step::Blocked)
}

//! Start-up decisions about who may connect: users from the config, and the warnings and
//! refusals of a server started unsafely (root without `-u`, open listeners).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use super::{parse_acl_file, Users};
use crate::config::Settings;
use crate::directives::Directives;

/// Loads `aclfile` or the config's `user` lines, then `requirepass`; Redis's errors.
pub fn configure(
    users: &Users,
    settings: &Settings,
    directives: &Directives,
) -> Result<(), String> {
    super::set_pubsub_default(directives.int("acl-pubsub-default") == 1);
    directives.on_change("acl-pubsub-default", |v| {
        super::set_pubsub_default(v.eq_ignore_ascii_case("allchannels"));
        Ok(())
    });
    let aclfile = directives.get("aclfile").unwrap_or_default();
    if !aclfile.is_empty() && !settings.acl_users.is_empty() {
        return Err(
            "Configuring Redis with users defined in redis.conf and at the same setting an ACL \
             file path is invalid. This setup is very likely to lead to configuration errors \
             and security holes, please define either an ACL file or declare users directly in \
             your redis.conf, but not both."
                .into(),
        );
    }
    if !aclfile.is_empty() {
        users.set_acl_file(Some(PathBuf::from(aclfile)));
        users.load_acl_file()?;
    } else if !settings.acl_users.is_empty() {
        let text: String = settings
            .acl_users
            .iter()
            // As Redis's ACLLoadConfiguredUsers: the default user exists already and is
            // reset before its line's rules (so it keeps `sanitize-payload`).
            .map(|rules| match rules.strip_prefix("default ") {
                Some(rest) => format!("user default reset {rest}\n"),
                None => format!("user {rules}\n"),
            })
            .collect();
        users.replace_all(parse_acl_file(&text, "config")?);
    }
    if let Some(p) = &settings.requirepass {
        users.set_requirepass(Some(p));
    }
    Ok(())
}

/// Whether a peer address (`ip:port` or a unix socket path) is this host.
pub fn is_local(peer: &str) -> bool {
    match peer.parse::<SocketAddr>() {
        Ok(a) => match a.ip() {
            IpAddr::V4(ip) => ip.is_loopback(),
            IpAddr::V6(ip) => {
                ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
            }
        },
        // Not an IP address: a unix socket, reachable only from this host.
        Err(_) => true,
    }
}

/// Redis's refusal of a non-loopback client in protected mode.
pub const DENIED_RESP: &[u8] = b"-DENIED Redis is running in protected mode because protected \
mode is enabled and no password is set for the default user. In this mode connections are only \
accepted from the loopback interface. If you want to connect from external computers to Redis \
you may adopt one of the following solutions: 1) Just disable protected mode sending the command \
'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same \
host the server is running, however MAKE SURE Redis is not publicly accessible from internet if \
you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable \
the protected mode by editing the Redis configuration file, and setting the protected mode option \
to 'no', and then restarting the server. 3) If you started the server manually just for testing, \
restart it with the '--protected-mode no' option. 4) Setup a bind address or an authentication \
password. NOTE: You only need to do one of the above things in order for the server to start \
accepting connections from the outside.\r\n";

/// The memcached protocol's one line for the same refusal.
pub const DENIED_MEMCACHE: &[u8] = b"SERVER_ERROR protected mode: no password is set and only \
loopback clients are accepted; set requirepass or start with --protected-mode no\r\n";

/// Whether protected mode refuses a new connection from `peer`.
pub fn protected_refuses(users: &Users, directives: &Directives, peer: &str) -> bool {
    directives.int("protected-mode") == 1 && !is_local(peer) && users.default_user().nopass()
}

/// What to do about running as root.
#[derive(Debug, PartialEq, Eq)]
pub enum RootCheck {
    Fine,
    /// Go on, after printing this.
    Warn(&'static str),
    /// Exit with memcached's message.
    Refuse(&'static str),
}

/// memcached refuses to run as root without `-u`; slabd warns (so a root container runs
/// it with one command) unless `--refuse-root` asks for memcached's behaviour.
pub fn root_check(settings: &Settings, euid: u32) -> RootCheck {
    if euid != 0 || settings.user.is_some() {
        RootCheck::Fine
    } else if settings.refuse_root {
        RootCheck::Refuse("can't run as root without the -u switch")
    } else {
        RootCheck::Warn(
            "WARNING: running as root without -u: a bug reachable from the network would have \
             root's rights. Use -u <user> to drop privileges, or --refuse-root to refuse to \
             start as root as memcached does.",
        )
    }
}

/// A warning for each TCP listener that anyone beyond this host can reach while no
/// password is required, or, with one, without TLS. `listeners`: (address, speaks TLS).
pub fn exposure_warnings(users: &Users, listeners: &[(String, bool)]) -> Vec<String> {
    let auth = users.auth_required();
    listeners
        .iter()
        .filter(|(addr, tls)| !(is_local(addr) || (auth && *tls)))
        .map(|(addr, _)| {
            if auth {
                format!(
                    "WARNING: {addr} is reachable beyond this host without TLS: passwords and \
                     data cross the network unencrypted. Turn TLS on for it (-Z, tls-port) \
                     or bind it to a trusted network; see docs/security.md."
                )
            } else {
                format!(
                    "WARNING: {addr} accepts clients beyond this host and no password is set: \
                     anyone who can reach it can read and change every item. Set requirepass \
                     (or ACL users) and see docs/security.md."
                )
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_peers() {
        assert!(is_local("127.0.0.1:5000"));
        assert!(is_local("[::1]:5000"));
        assert!(is_local("[::ffff:127.0.0.1]:5000"));
        assert!(is_local("/tmp/slabd.sock"));
        assert!(!is_local("10.1.2.3:5000"));
        assert!(!is_local("[2001:db8::1]:5000"));
    }

    #[test]
    fn root_rules() {
        let mut s = Settings::default();
        assert_eq!(root_check(&s, 1000), RootCheck::Fine);
        assert!(matches!(root_check(&s, 0), RootCheck::Warn(_)));
        s.refuse_root = true;
        assert_eq!(
            root_check(&s, 0),
            RootCheck::Refuse("can't run as root without the -u switch")
        );
        s.user = Some("nobody".into());
        assert_eq!(root_check(&s, 0), RootCheck::Fine);
    }

    #[test]
    fn protected_mode_needs_no_password_and_a_remote_peer() {
        let users = Users::new();
        let d = Directives::new(&[]).unwrap();
        assert!(protected_refuses(&users, &d, "10.0.0.1:1"));
        assert!(!protected_refuses(&users, &d, "127.0.0.1:1"));
        users.set_requirepass(Some(b"pw"));
        assert!(!protected_refuses(&users, &d, "10.0.0.1:1"));
        let d = Directives::new(&[("protected-mode".into(), "no".into())]).unwrap();
        users.set_requirepass(None);
        assert!(!protected_refuses(&users, &d, "10.0.0.1:1"));
    }
}

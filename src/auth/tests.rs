use super::*;

fn rules(list: &[&str]) -> Vec<&'static [u8]> {
    list.iter()
        .map(|r| &*Box::leak(r.as_bytes().to_vec().into_boxed_slice()))
        .collect()
}

fn listed(users: &Users, name: &str) -> String {
    String::from_utf8(users.get(name.as_bytes()).unwrap().describe()).unwrap()
}

#[test]
fn default_user_is_redis_default() {
    let users = Users::new();
    assert_eq!(listed(&users, "default"), "on nopass ~* &* +@all");
    assert!(users.default_user().unrestricted());
    assert!(!users.auth_required());
    let login = users.new_login();
    assert!(login.authenticated);
    assert_eq!(login.user.name(), b"default");
}

#[test]
fn requirepass_sets_the_default_password() {
    let users = Users::new();
    users.set_requirepass(Some(b"s3cret"));
    assert!(users.auth_required());
    assert!(!users.new_login().authenticated);
    assert_eq!(
        users.authenticate(b"default", b"wrong").err(),
        Some(WrongPass)
    );
    assert!(users.authenticate(b"default", b"s3cret").is_ok());
    assert_eq!(
        listed(&users, "default"),
        format!(
            "on #{} ~* &* +@all",
            String::from_utf8(hex(&sha256(b"s3cret")).to_vec()).unwrap()
        )
    );
    users.set_requirepass(Some(b""));
    assert!(!users.auth_required());
}

#[test]
fn password_hashes_are_redis_sha256_hex() {
    // echo -n foo | sha256sum
    assert_eq!(
        &hex(&sha256(b"foo")),
        b"2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
    );
}

#[test]
fn setuser_rules_apply_atomically() {
    let users = Users::new();
    let g = users.generation();
    users
        .set_user(b"alice", &rules(&["on", ">p1", "~cached:*", "+get"]))
        .unwrap();
    assert!(users.generation() > g);
    assert_eq!(
        listed(&users, "alice"),
        format!(
            "on #{} ~cached:* resetchannels -@all +get",
            String::from_utf8(hex(&sha256(b"p1")).to_vec()).unwrap()
        )
    );
    let err = users
        .set_user(b"alice", &rules(&["off", "+nosuch"]))
        .unwrap_err();
    assert_eq!(err, (b"+nosuch".to_vec(), RuleError::UnknownCommand));
    assert!(
        users.get(b"alice").unwrap().enabled(),
        "failed SETUSER changed nothing"
    );
    assert!(users.authenticate(b"alice", b"p1").is_ok());
    assert!(users.authenticate(b"alice", b"p2").is_err());
    assert!(users.authenticate(b"nobody", b"p1").is_err());
    users.set_user(b"alice", &rules(&["off"])).unwrap();
    assert!(users.authenticate(b"alice", b"p1").is_err(), "disabled");
    users.set_user(b"bob", &rules(&["on", "nopass"])).unwrap();
    assert!(users.authenticate(b"bob", b"anything").is_ok());
    assert_eq!(
        users.set_user(b"bob", &rules(&["<nope"])).unwrap_err().1,
        RuleError::NoSuchPassword
    );
    assert_eq!(
        users.set_user(b"bob", &rules(&["#abc"])).unwrap_err().1,
        RuleError::BadHash
    );
}

#[test]
fn selectors_merge_and_describe() {
    let users = Users::new();
    users
        .set_user(
            b"s",
            &rules(&["on", "nopass", "+get", "~a*", "(+set", "~b*)"]),
        )
        .unwrap();
    assert_eq!(
        listed(&users, "s"),
        "on nopass ~a* resetchannels -@all +get (~b* resetchannels -@all +set)"
    );
    let u = users.get(b"s").unwrap();
    let args: [&[u8]; 3] = [b"set", b"bx", b"v"];
    let set = catalog::lookup(b"set").unwrap();
    assert_eq!(u.check(set, 3, |i| args[i]), Ok(()));
    let args: [&[u8]; 3] = [b"set", b"ax", b"v"];
    assert_eq!(u.check(set, 3, |i| args[i]), Err(Denied::Key(1)));
    assert_eq!(
        users
            .set_user(b"s", &rules(&["(+get", "~x"]))
            .unwrap_err()
            .0,
        b"(+get".to_vec()
    );
    // An unclosed selector given as one argument with spaces is quoted whole, as Redis
    // quotes the argument it started at.
    assert_eq!(
        users
            .set_user(b"s", &rules(&["on", "(+get ~a*", "~x"]))
            .unwrap_err()
            .0,
        b"(+get ~a*".to_vec()
    );
    users.set_user(b"s", &rules(&["clearselectors"])).unwrap();
    assert_eq!(
        listed(&users, "s"),
        "on nopass ~a* resetchannels -@all +get"
    );
    users.set_user(b"s", &rules(&["reset"])).unwrap();
    assert_eq!(
        listed(&users, "s"),
        "off sanitize-payload resetchannels -@all"
    );
}

#[test]
fn logins_follow_acl_changes_and_deletion() {
    let users = Users::new();
    users
        .set_user(b"a", &rules(&["on", ">pw", "+@all", "~*"]))
        .unwrap();
    let mut login = users.new_login();
    let a = users.authenticate(b"a", b"pw").unwrap();
    login.log_in(&users, a);
    assert_eq!(login.current(&users), LoginState::Ok);
    assert!(login.user.may_run(catalog::lookup(b"get").unwrap()));
    users.set_user(b"a", &rules(&["-get"])).unwrap();
    assert_eq!(login.current(&users), LoginState::Ok);
    assert!(!login.user.may_run(catalog::lookup(b"get").unwrap()));
    assert_eq!(users.delete_users(&[b"a"]), 1);
    assert_eq!(login.current(&users), LoginState::Gone);
    assert!(!login.authenticated);
}

#[test]
fn acl_files_load_and_report_like_redis() {
    let users = parse_acl_file(
        "user default on nopass ~* &* +@all\nuser alice on >x ~k* +get\n\n",
        "users.acl",
    )
    .unwrap();
    assert_eq!(users.len(), 2);
    let err = parse_acl_file("user a on\nuser a off\nfoo\nuser b +nosuch\n", "f.acl").unwrap_err();
    assert_eq!(
        err,
        "WARNING: Duplicate user 'a' found on line 2. f.acl:3 should start with user keyword \
         followed by the username. f.acl:4: Error in applying operation '+nosuch': Unknown \
         command or category name in ACL. WARNING: ACL errors detected, no change to the \
         previously active ACL rules was performed"
    );
    let all = Users::new();
    all.replace_all(users);
    let text = acl_file_text(&all.all());
    assert!(String::from_utf8(text)
        .unwrap()
        .starts_with("user alice on #"));
}

#[test]
fn memcached_verbs_map_to_redis_commands() {
    let name = |v: &[u8]| catalog::entry(memcache::equivalent(v).unwrap().0).name;
    assert_eq!(name(b"get"), "get");
    assert_eq!(name(b"cas"), "set");
    assert_eq!(name(b"flush_all"), "flushall");
    assert_eq!(name(b"stats"), "info");
    assert_eq!(name(b"verbosity"), "config|set");
    assert_eq!(memcache::equivalent(b"get").unwrap().1, KEY_READ);
    assert!(memcache::equivalent(b"bogus").is_none());
    let users = Users::new();
    users
        .set_user(
            b"r",
            &rules(&["on", "nopass", "+get", "%R~pub:*", "+set", "%W~mine:*"]),
        )
        .unwrap();
    let u = users.get(b"r").unwrap();
    let keys = |k: &'static [&'static [u8]]| k.iter().copied();
    assert_eq!(
        memcache::check_verb(&u, b"get", keys(&[b"pub:1", b"pub:2"])),
        Ok(())
    );
    assert_eq!(
        memcache::check_verb(&u, b"get", keys(&[b"pub:1", b"mine:2"])),
        Err(Denied::Key(2))
    );
    assert_eq!(memcache::check_verb(&u, b"set", keys(&[b"mine:1"])), Ok(()));
    assert_eq!(
        memcache::check_verb(&u, b"set", keys(&[b"pub:1"])),
        Err(Denied::Key(1))
    );
    assert_eq!(
        memcache::check_verb(&u, b"flush_all", keys(&[])),
        Err(Denied::Command)
    );
}

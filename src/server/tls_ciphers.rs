//! OpenSSL cipher lists (`tls-ciphers`, memcached's `-o ssl_ciphers=`) for the TLS 1.2
//! suites rustls offers.
//!
//! The list is read as OpenSSL's `SSL_CTX_set_cipher_list` reads it: elements separated
//! by `:` (or `,` / space), each a cipher name or alias, or several joined by `+` (all must
//! apply); a leading `!` removes the matching suites for good, `-` removes them (a later
//! element may add them back), `+` moves them to the end; `@STRENGTH` and `@SECLEVEL=n`
//! are accepted and change nothing here. Names OpenSSL knows but rustls does not offer
//! (CBC suites, RSA key exchange, ...) select nothing, as unknown names do in OpenSSL; a
//! list that selects no suite at all is an error, as OpenSSL's "no cipher match" is.
//! TLS 1.3 suites are set apart (`tls-ciphersuites`), as in OpenSSL.

use rustls::crypto::ring::cipher_suite as cs;
use rustls::SupportedCipherSuite;

/// rustls's TLS 1.2 suites: OpenSSL's name and the aliases that include it, strongest
/// first (OpenSSL's DEFAULT order for these).
const SUITES: &[(&str, &[&str])] = &[
    (
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        &["aECDSA", "ECDSA", "AES256", "AESGCM", "SHA384"],
    ),
    (
        "ECDHE-RSA-AES256-GCM-SHA384",
        &["aRSA", "AES256", "AESGCM", "SHA384"],
    ),
    (
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        &["aECDSA", "ECDSA", "CHACHA20", "SHA256"],
    ),
    (
        "ECDHE-RSA-CHACHA20-POLY1305",
        &["aRSA", "CHACHA20", "SHA256"],
    ),
    (
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        &["aECDSA", "ECDSA", "AES128", "AESGCM", "SHA256"],
    ),
    (
        "ECDHE-RSA-AES128-GCM-SHA256",
        &["aRSA", "AES128", "AESGCM", "SHA256"],
    ),
];

/// Aliases every one of them belongs to.
const COMMON: &[&str] = &[
    "ALL", "DEFAULT", "HIGH", "kECDHE", "kEECDH", "ECDHE", "EECDH", "AES", "AEAD", "TLSv1.2",
    "FIPS",
];

fn rustls_suite(name: &str) -> SupportedCipherSuite {
    match name {
        "ECDHE-ECDSA-AES256-GCM-SHA384" => cs::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        "ECDHE-RSA-AES256-GCM-SHA384" => cs::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        "ECDHE-ECDSA-CHACHA20-POLY1305" => cs::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        "ECDHE-RSA-CHACHA20-POLY1305" => cs::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        "ECDHE-ECDSA-AES128-GCM-SHA256" => cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        _ => cs::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    }
}

/// Whether suite `i` has every `+`-joined term of `element`.
fn matches(i: usize, element: &str) -> bool {
    let (name, tags) = SUITES[i];
    element.split('+').all(|term| {
        term == name
            || tags.contains(&term)
            || COMMON.contains(&term)
            // "AES" also covers AES128/AES256; "AESGCM" is a tag already.
            || (term == "CHACHA20-POLY1305" && name.contains("CHACHA20"))
    })
}

/// The TLS 1.2 suites a cipher list selects, in its order; the error is for a list that
/// selects none.
pub fn select(list: &str) -> Result<Vec<SupportedCipherSuite>, String> {
    let mut active: Vec<usize> = Vec::new();
    let mut killed = [false; SUITES.len()];
    for element in list.split([':', ',', ' ']).filter(|e| !e.is_empty()) {
        if element.starts_with('@') {
            continue;
        }
        let (op, body) = match element.as_bytes()[0] {
            b'!' | b'-' | b'+' => (element.as_bytes()[0], &element[1..]),
            _ => (0, element),
        };
        let hit: Vec<usize> = (0..SUITES.len()).filter(|&i| matches(i, body)).collect();
        match op {
            b'!' => {
                for &i in &hit {
                    killed[i] = true;
                }
                active.retain(|i| !hit.contains(i));
            }
            b'-' => active.retain(|i| !hit.contains(i)),
            b'+' => {
                let (moved, kept): (Vec<usize>, Vec<usize>) =
                    active.iter().partition(|i| hit.contains(i));
                active = kept;
                active.extend(moved);
            }
            _ => {
                for i in hit {
                    if !killed[i] && !active.contains(&i) {
                        active.push(i);
                    }
                }
            }
        }
    }
    if active.is_empty() {
        return Err(format!(
            "no cipher match in '{list}' (slabd's TLS 1.2 ciphers: {})",
            SUITES.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(":")
        ));
    }
    Ok(active
        .into_iter()
        .map(|i| rustls_suite(SUITES[i].0))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &str) -> Vec<String> {
        select(list)
            .unwrap()
            .iter()
            .map(|s| format!("{:?}", s.suite()))
            .collect()
    }

    #[test]
    fn openssl_lists_select_in_their_order() {
        assert_eq!(names("DEFAULT").len(), 6);
        assert_eq!(
            names("ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384"),
            [
                "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
                "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"
            ]
        );
        // Unknown and unsupported names select nothing; the rest stands.
        assert_eq!(
            names("AES128-SHA256:NOPE:ECDHE-RSA-CHACHA20-POLY1305"),
            ["TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"]
        );
        // `-` and `!` remove; `!` for good.
        assert_eq!(names("DEFAULT:-aECDSA").len(), 3);
        assert_eq!(names("DEFAULT:!AES256:AES256").len(), 4);
        assert_eq!(names("DEFAULT:-AES256:AES256").len(), 6);
        // `+` joins terms; a leading `+` moves to the end.
        assert_eq!(
            names("ECDHE+aRSA+AESGCM"),
            [
                "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
                "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
            ]
        );
        let v = names("aRSA:+AES256");
        assert_eq!(v.last().unwrap(), "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384");
        assert_eq!(names("HIGH:!aNULL:!MD5:@STRENGTH").len(), 6);
    }

    #[test]
    fn a_list_selecting_nothing_is_refused() {
        for list in [
            "",
            "AES128-SHA256",
            "DEFAULT:!ALL",
            "RC4:DES",
            "-ALL:AES256-SHA256",
        ] {
            assert!(
                select(list).unwrap_err().starts_with("no cipher match"),
                "{list}"
            );
        }
    }
}

//! memcached's authentication flags: `-S` (SASL, `MEMCACHED_SASL_PWDB`) and `-Y` (an
//! ASCII auth file).

use super::{BindingProtocol, ConfigError, Settings};

/// `-S` and `-Y` as memcached 1.6 takes them: SASL means the binary protocol only, ASCII
/// authentication the text protocol only, and either refuses a `-B` that says otherwise.
pub(super) fn authentication(s: &mut Settings) -> Result<(), ConfigError> {
    if s.sasl {
        if !s.binding_explicit {
            s.binding_protocol = BindingProtocol::Binary;
        } else if s.binding_protocol != BindingProtocol::Binary {
            return Err(ConfigError::new(
                "-S",
                "ERROR: You cannot allow the ASCII protocol while using SASL.",
            ));
        }
        if s.udp_enabled {
            return Err(ConfigError::new(
                "-S",
                "ERROR: Cannot enable UDP while using binary SASL authentication.",
            ));
        }
        if let Some(path) = std::env::var_os("MEMCACHED_SASL_PWDB") {
            let text = std::fs::read(&path).map_err(|e| {
                ConfigError::new(
                    "-S",
                    format!("Could not open MEMCACHED_SASL_PWDB [{path:?}], error {e}"),
                )
            })?;
            s.sasl_auth = auth_entries(&text).ok_or_else(|| {
                ConfigError::new(
                    "-S",
                    format!("MEMCACHED_SASL_PWDB [{path:?}] has a malformed entry. Should be 'user:password'"),
                )
            })?;
        }
    }
    let Some(path) = s.auth_file.clone() else {
        return Ok(());
    };
    if !s.binding_explicit {
        s.binding_protocol = BindingProtocol::Ascii;
    } else if s.binding_protocol != BindingProtocol::Ascii {
        return Err(ConfigError::new(
            "-Y",
            "ERROR: You cannot allow the BINARY protocol while using ascii authentication tokens.",
        ));
    }
    let text = std::fs::read(&path).map_err(|e| {
        ConfigError::new(
            "-Y",
            format!(
                "Could not open authfile [{}] for reading, error {e}",
                path.display()
            ),
        )
    })?;
    s.ascii_auth = auth_entries(&text).ok_or_else(|| {
        ConfigError::new(
            "-Y",
            format!(
                "Authfile [{}] has a malformed entry. Should be 'user:password'",
                path.display()
            ),
        )
    })?;
    Ok(())
}

/// memcached's authfile: one `user:password` per line (the password ends at `\r`, `\n`
/// or the end), at most 8 entries; a line without `:` is malformed.
pub fn auth_entries(text: &[u8]) -> Option<Vec<(Vec<u8>, Vec<u8>)>> {
    const MAX_ENTRIES: usize = 8;
    let text = text.strip_suffix(b"\n").unwrap_or(text);
    if text.is_empty() {
        return Some(Vec::new());
    }
    let mut entries = Vec::new();
    for line in text.split(|&b| b == b'\n').take(MAX_ENTRIES) {
        let colon = line.iter().position(|&b| b == b':')?;
        let pass = &line[colon + 1..];
        let pass = &pass[..pass.iter().position(|&b| b == b'\r').unwrap_or(pass.len())];
        entries.push((line[..colon].to_vec(), pass.to_vec()));
    }
    Some(entries)
}

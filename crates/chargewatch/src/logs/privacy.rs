//! Id-tag masking for sites that ask for it: every `idTag` / `parentIdTag` in a record's
//! payload becomes its first two characters and a keyed hash, so one tag can still be
//! followed through a session without being readable. Applied before a record leaves the
//! gateway, so the clear tag never reaches the transport, the store, the API or exports.

use serde_json::Value;
use sha2::{Digest, Sha256};

const TAG_KEYS: [&str; 2] = ["idTag", "parentIdTag"];

/// Masks with a per-installation secret key.
#[derive(Clone)]
pub struct Masker {
    key: Vec<u8>,
}

impl Masker {
    pub fn new(key: impl Into<Vec<u8>>) -> Masker {
        Masker { key: key.into() }
    }

    /// `AB…` followed by 8 hex digits of SHA-256(key ‖ tag).
    pub fn mask_tag(&self, tag: &str) -> String {
        let mut h = Sha256::new();
        h.update(&self.key);
        h.update(tag.to_ascii_uppercase().as_bytes());
        let digest = h.finalize();
        let prefix: String = tag.chars().take(2).map(|c| c.to_ascii_uppercase()).collect();
        let hex: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
        format!("{prefix}…{hex}")
    }

    fn walk(&self, v: &mut Value) -> bool {
        let mut changed = false;
        match v {
            Value::Object(map) => {
                for (k, child) in map.iter_mut() {
                    if let (true, Value::String(s)) = (TAG_KEYS.contains(&k.as_str()), &*child) {
                        *child = Value::String(self.mask_tag(s));
                        changed = true;
                    } else {
                        changed |= self.walk(child);
                    }
                }
            }
            Value::Array(items) => {
                for item in items {
                    changed |= self.walk(item);
                }
            }
            _ => {}
        }
        changed
    }

    /// The frame text with every id tag masked; text that is not JSON but mentions an id
    /// tag key is replaced by a note, since it cannot be masked safely.
    pub fn mask_frame(&self, raw: &str) -> String {
        if !TAG_KEYS.iter().any(|k| raw.contains(k)) {
            return raw.to_string();
        }
        match serde_json::from_str::<Value>(raw) {
            Ok(mut v) => {
                if self.walk(&mut v) {
                    v.to_string()
                } else {
                    raw.to_string()
                }
            }
            Err(_) => "\"(unparseable frame withheld: id tags are masked on this site)\"".to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_masked_everywhere_and_stay_followable() {
        let m = Masker::new(b"k".to_vec());
        let raw = r#"[2,"1","SendLocalList",{"localAuthorizationList":[{"idTag":"DEADBEEF01","idTagInfo":{"status":"Accepted","parentIdTag":"FLEET77"}}]}]"#;
        let out = m.mask_frame(raw);
        assert!(!out.contains("DEADBEEF01") && !out.contains("FLEET77"), "{out}");
        assert!(out.contains(&m.mask_tag("DEADBEEF01")));
        assert_eq!(m.mask_tag("deadbeef01"), m.mask_tag("DEADBEEF01"), "id tags are case-insensitive");
        assert_ne!(Masker::new(b"other".to_vec()).mask_tag("DEADBEEF01"), m.mask_tag("DEADBEEF01"));
        assert_eq!(m.mask_frame(r#"[2,"1","Heartbeat",{}]"#), r#"[2,"1","Heartbeat",{}]"#);
        assert!(!m.mask_frame(r#"[2,"1","Authorize",{"idTag":"SECRET"#).contains("SECRET"));
    }
}

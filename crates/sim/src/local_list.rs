//! The Local Authorization List (OCPP 1.6 section 3.5.3, SendLocalList / GetLocalListVersion).

use serde_json::Value;
use std::collections::BTreeMap;

/// Outcome of SendLocalList (the `status` of SendLocalList.conf).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateStatus {
    Accepted,
    Failed,
    NotSupported,
    VersionMismatch,
}

impl UpdateStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            UpdateStatus::Accepted => "Accepted",
            UpdateStatus::Failed => "Failed",
            UpdateStatus::NotSupported => "NotSupported",
            UpdateStatus::VersionMismatch => "VersionMismatch",
        }
    }
}

/// One entry of SendLocalList.req's localAuthorizationList. `id_tag_info` is `None` in a
/// differential update that removes the idTag.
#[derive(Debug, Clone, PartialEq)]
pub struct ListEntry {
    pub id_tag: String,
    pub id_tag_info: Option<Value>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct LocalList {
    pub version: i64,
    /// Keyed by the upper-cased idTag (idTag is case-insensitive).
    entries: BTreeMap<String, (String, Value)>,
}

impl LocalList {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The idTagInfo stored for an idTag.
    pub fn get(&self, id_tag: &str) -> Option<&Value> {
        self.entries.get(&id_tag.to_ascii_uppercase()).map(|(_, info)| info)
    }

    /// Applies SendLocalList. `max_len` is LocalAuthListMaxLength, `max_send` SendLocalListMaxLength.
    ///
    /// - Full: replaces the list; entries without idTagInfo are not added; an empty list clears it.
    /// - Differential: entries with idTagInfo are added or updated, without are removed; a
    ///   version not newer than the current one is a VersionMismatch.
    /// - Duplicate idTags in the request, a request longer than `max_send`, or a result longer
    ///   than `max_len` fail without changing the list.
    pub fn apply(
        &mut self,
        version: i64,
        full: bool,
        list: &[ListEntry],
        max_len: usize,
        max_send: usize,
    ) -> UpdateStatus {
        if version < 0 || list.len() > max_send {
            return UpdateStatus::Failed;
        }
        let mut seen = std::collections::HashSet::new();
        if !list.iter().all(|e| seen.insert(e.id_tag.to_ascii_uppercase())) {
            return UpdateStatus::Failed;
        }
        if !full && version <= self.version {
            return UpdateStatus::VersionMismatch;
        }
        let mut next = if full { BTreeMap::new() } else { self.entries.clone() };
        for e in list {
            let key = e.id_tag.to_ascii_uppercase();
            match &e.id_tag_info {
                Some(info) => {
                    next.insert(key, (e.id_tag.clone(), info.clone()));
                }
                None => {
                    next.remove(&key);
                }
            }
        }
        if next.len() > max_len {
            return UpdateStatus::Failed;
        }
        self.entries = next;
        self.version = version;
        UpdateStatus::Accepted
    }

    /// Parses SendLocalList.req's localAuthorizationList.
    pub fn parse_entries(v: Option<&Value>) -> Result<Vec<ListEntry>, String> {
        let Some(v) = v else { return Ok(Vec::new()) };
        let arr = v.as_array().ok_or("localAuthorizationList must be an array")?;
        arr.iter()
            .map(|e| {
                let id_tag = e.get("idTag").and_then(Value::as_str).ok_or("entry without idTag")?;
                if id_tag.chars().count() > 20 {
                    return Err("idTag longer than 20 characters".to_string());
                }
                let info = match e.get("idTagInfo") {
                    None | Some(Value::Null) => None,
                    Some(i) if i.get("status").and_then(Value::as_str).is_some() => Some(i.clone()),
                    Some(_) => return Err("idTagInfo without status".to_string()),
                };
                Ok(ListEntry { id_tag: id_tag.to_string(), id_tag_info: info })
            })
            .collect()
    }
}

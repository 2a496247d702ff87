use chargewatch_sim::local_list::{ListEntry, LocalList, UpdateStatus};
use serde_json::json;

fn e(tag: &str, status: Option<&str>) -> ListEntry {
    ListEntry { id_tag: tag.into(), id_tag_info: status.map(|s| json!({ "status": s })) }
}

#[test]
fn full_update_replaces_the_list() {
    let mut l = LocalList::default();
    assert_eq!(
        l.apply(1, true, &[e("A", Some("Accepted")), e("B", Some("Blocked"))], 100, 100),
        UpdateStatus::Accepted
    );
    assert_eq!(l.version, 1);
    assert_eq!(l.len(), 2);
    assert_eq!(l.apply(2, true, &[e("C", Some("Accepted"))], 100, 100), UpdateStatus::Accepted);
    assert_eq!(l.len(), 1);
    assert!(l.get("A").is_none());
    assert_eq!(l.get("c").unwrap()["status"], "Accepted", "idTags are case-insensitive");
    // A full update may go to any version, also a lower one.
    assert_eq!(l.apply(1, true, &[], 100, 100), UpdateStatus::Accepted);
    assert!(l.is_empty(), "an empty full list clears everything");
    assert_eq!(l.version, 1);
}

#[test]
fn differential_update_adds_updates_and_removes() {
    let mut l = LocalList::default();
    l.apply(5, true, &[e("A", Some("Accepted")), e("B", Some("Accepted"))], 100, 100);
    let st = l.apply(6, false, &[e("A", Some("Blocked")), e("B", None), e("C", Some("Accepted"))], 100, 100);
    assert_eq!(st, UpdateStatus::Accepted);
    assert_eq!(l.version, 6);
    assert_eq!(l.get("A").unwrap()["status"], "Blocked");
    assert!(l.get("B").is_none());
    assert_eq!(l.get("C").unwrap()["status"], "Accepted");
    // Empty differential: no effect on the entries, version moves.
    assert_eq!(l.apply(7, false, &[], 100, 100), UpdateStatus::Accepted);
    assert_eq!(l.len(), 2);
}

#[test]
fn differential_with_old_version_is_a_mismatch() {
    let mut l = LocalList::default();
    l.apply(5, true, &[e("A", Some("Accepted"))], 100, 100);
    assert_eq!(l.apply(5, false, &[e("B", Some("Accepted"))], 100, 100), UpdateStatus::VersionMismatch);
    assert_eq!(l.apply(3, false, &[e("B", Some("Accepted"))], 100, 100), UpdateStatus::VersionMismatch);
    assert!(l.get("B").is_none());
    assert_eq!(l.version, 5);
}

#[test]
fn duplicates_and_oversize_fail_without_change() {
    let mut l = LocalList::default();
    l.apply(1, true, &[e("A", Some("Accepted"))], 100, 100);
    assert_eq!(l.apply(2, true, &[e("X", Some("Accepted")), e("x", Some("Blocked"))], 100, 100), UpdateStatus::Failed);
    assert_eq!(l.apply(2, true, &[e("X", Some("Accepted")), e("Y", Some("Accepted"))], 100, 1), UpdateStatus::Failed);
    assert_eq!(l.apply(2, false, &[e("X", Some("Accepted")), e("Y", Some("Accepted"))], 2, 100), UpdateStatus::Failed);
    assert_eq!(l.apply(-1, true, &[], 100, 100), UpdateStatus::Failed);
    assert_eq!(l.version, 1);
    assert_eq!(l.len(), 1);
}

#[test]
fn parses_request_entries() {
    let v = json!([{"idTag": "A", "idTagInfo": {"status": "Accepted", "expiryDate": "2027-01-01T00:00:00Z"}}, {"idTag": "B"}]);
    let entries = LocalList::parse_entries(Some(&v)).unwrap();
    assert_eq!(entries.len(), 2);
    assert!(entries[1].id_tag_info.is_none());
    assert!(LocalList::parse_entries(Some(&json!([{"idTag": "123456789012345678901"}]))).is_err());
    assert!(LocalList::parse_entries(Some(&json!([{"idTag": "A", "idTagInfo": {}}]))).is_err());
}

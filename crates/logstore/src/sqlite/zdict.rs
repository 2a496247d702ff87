//! The built-in zstd dictionary for OCPP 1.6-J frames.
//!
//! Its content ([`BUILTIN_V1`]) is hand-written from the OCPP 1.6 vocabulary (field names,
//! enum values, frame shapes), not trained on any data set. zstd finds matches nearest the
//! end cheapest, so the most frequent shapes (MeterValues, Heartbeat, StatusNotification)
//! come last.
//!
//! New day files get [`builtin`]: that content finalized into a zstd dictionary (version 2),
//! i.e. with entropy tables. With a raw-content dictionary (what version 1 files hold) zstd
//! builds fresh entropy tables for every record (`FSE_buildCTable`, ~30 % of compressing a
//! 170-byte frame); with tables in the dictionary it reuses them, and compressing a record
//! takes ~40 % fewer instructions. The tables are computed from the content's own frames with
//! every empty string value filled in by a made-up value of the kinds OCPP frames carry
//! (timestamps, UUIDs, decimals, integers), so that the literal statistics see digits and
//! hex as real frames do: rows come out smaller too (202.4 → 190.0 bytes per record on disk in
//! `logbench --records 1000000`; figures and commands in `bench/README-logstore.md`). Each
//! partition file stores a copy of the dictionary it was written with (table `meta`, key
//! `zdict`), and zstd tells the two kinds apart by the magic number, so files of either
//! version stay readable.

use std::sync::OnceLock;
use zstd::zstd_safe::zstd_sys;

/// Dictionary id written into the finalized dictionary (frames do not carry it).
const DICT_ID_V2: u32 = 0x4357_0002;

/// The dictionary new day files are written with: [`BUILTIN_V1`] finalized (see the module
/// doc); the raw content itself if finalizing fails.
pub(crate) fn builtin() -> &'static [u8] {
    static DICT: OnceLock<Vec<u8>> = OnceLock::new();
    DICT.get_or_init(|| finalize(BUILTIN_V1).unwrap_or_else(|| BUILTIN_V1.as_bytes().to_vec()))
}

/// The content's frames: split where one JSON value ends and the next begins.
fn own_frames(content: &[u8]) -> Vec<&[u8]> {
    let mut frames = Vec::new();
    let mut start = 0;
    for i in 1..content.len() {
        if matches!((content[i - 1], content[i]), (b']', b'[') | (b'}', b'{')) {
            frames.push(&content[start..i]);
            start = i;
        }
    }
    frames.push(&content[start..]);
    frames
}

/// How many filled-in copies of the content the statistics are taken from.
const SAMPLE_COPIES: u64 = 20;

/// A made-up JSON string value of one of the kinds OCPP frames carry, picked by `r`.
fn made_up_value(r: u64) -> String {
    match r % 4 {
        0 => format!(
            "\"2026-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z\"",
            1 + r % 12,
            1 + (r >> 8) % 28,
            (r >> 16) % 24,
            (r >> 24) % 60,
            (r >> 32) % 60,
            (r >> 40) % 1000
        ),
        1 => format!(
            "\"{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}\"",
            r as u32,
            (r >> 32) as u16,
            (r >> 20) & 0xfff,
            (r >> 8) & 0xfff,
            r & 0xffff_ffff_ffff
        ),
        2 => format!("\"{}.{}\"", (r >> 10) % 100_000, r % 10),
        _ => format!("\"{}\"", (r >> 5) % 1000),
    }
}

/// Copies of `content` with every `""` filled in by [`made_up_value`] (a fixed xorshift
/// sequence: the same samples, hence the same dictionary, in every build).
fn filled_copies(content: &str) -> Vec<String> {
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    (0..SAMPLE_COPIES)
        .map(|_| {
            let mut parts = content.split("\"\"");
            let mut out = parts.next().unwrap_or_default().to_string();
            for part in parts {
                out.push_str(&made_up_value(next()));
                out.push_str(part);
            }
            out
        })
        .collect()
}

/// `content` with a zstd dictionary header and entropy tables from its own frames.
fn finalize(content: &str) -> Option<Vec<u8>> {
    let copies = filled_copies(content);
    let samples: Vec<&[u8]> = copies.iter().flat_map(|c| own_frames(c.as_bytes())).collect();
    let flat: Vec<u8> = samples.concat();
    let sizes: Vec<usize> = samples.iter().map(|s| s.len()).collect();
    let mut out = vec![0u8; content.len() + 16 * 1024];
    let params = zstd_sys::ZDICT_params_t { compressionLevel: 3, notificationLevel: 0, dictID: DICT_ID_V2 };
    // SAFETY: every pointer comes with its buffer's length; `sizes` sums to `flat.len()`;
    // zstd writes at most `out.len()` bytes into `out` (content and dictionary may not
    // overlap here: they are separate buffers).
    let n = unsafe {
        zstd_sys::ZDICT_finalizeDictionary(
            out.as_mut_ptr().cast(),
            out.len(),
            content.as_ptr().cast(),
            content.len(),
            flat.as_ptr().cast(),
            sizes.as_ptr(),
            sizes.len() as u32,
            params,
        )
    };
    // SAFETY: a pure function of the returned code.
    if unsafe { zstd_sys::ZDICT_isError(n) } != 0 {
        return None;
    }
    out.truncate(n);
    Some(out)
}

pub(crate) const BUILTIN_V1: &str = concat!(
    r#"{"event":"Disconnected","code":1006,"reason":""}{"event":"Connected","remote":"","subprotocol":"ocpp1.6"}"#,
    r#"{"event":"ConnectionRefused","reason":"unknown station"}"#,
    r#"[2,"","GetConfiguration",{"key":[]}][3,"",{"configurationKey":[{"key":"HeartbeatInterval","readonly":false,"value":"300"},{"key":"MeterValueSampleInterval","readonly":false,"value":"60"}],"unknownKey":[]}]"#,
    r#"[2,"","ChangeConfiguration",{"key":"","value":""}][3,"",{"status":"Accepted"}][3,"",{"status":"Rejected"}][3,"",{"status":"RebootRequired"}][3,"",{"status":"NotSupported"}]"#,
    r#"[2,"","Reset",{"type":"Soft"}][2,"","Reset",{"type":"Hard"}][2,"","UnlockConnector",{"connectorId":1}][3,"",{"status":"Unlocked"}][3,"",{"status":"UnlockFailed"}]"#,
    r#"[2,"","ChangeAvailability",{"connectorId":0,"type":"Operative"}][2,"","ChangeAvailability",{"connectorId":1,"type":"Inoperative"}][3,"",{"status":"Scheduled"}]"#,
    r#"[2,"","TriggerMessage",{"requestedMessage":"StatusNotification","connectorId":1}][2,"","TriggerMessage",{"requestedMessage":"MeterValues"}]"#,
    r#"[2,"","DataTransfer",{"vendorId":"","messageId":"","data":""}][3,"",{"status":"UnknownVendorId"}]"#,
    r#"[2,"","FirmwareStatusNotification",{"status":"Installed"}][2,"","DiagnosticsStatusNotification",{"status":"Uploaded"}][2,"","GetDiagnostics",{"location":"ftp://"}][2,"","UpdateFirmware",{"location":"https://","retrieveDate":""}]"#,
    r#"[2,"","SetChargingProfile",{"connectorId":1,"csChargingProfiles":{"chargingProfileId":1,"stackLevel":0,"chargingProfilePurpose":"TxDefaultProfile","chargingProfileKind":"Absolute","chargingSchedule":{"chargingRateUnit":"A","chargingSchedulePeriod":[{"startPeriod":0,"limit":16.0,"numberPhases":3}]}}}]"#,
    r#"[2,"","ClearCache",{}][2,"","SendLocalList",{"listVersion":1,"updateType":"Full","localAuthorizationList":[]}][2,"","GetLocalListVersion",{}][3,"",{"listVersion":0}][2,"","ReserveNow",{"connectorId":1,"expiryDate":"","idTag":"","reservationId":1}][2,"","CancelReservation",{"reservationId":1}]"#,
    r#"[4,"","NotImplemented","Requested Action is not known by receiver",{}][4,"","NotSupported","",{}][4,"","InternalError","",{}][4,"","ProtocolError","",{}][4,"","SecurityError","",{}][4,"","PropertyConstraintViolation","",{}][4,"","OccurenceConstraintViolation","",{}][4,"","TypeConstraintViolation","",{}][4,"","GenericError","",{}][4,"","FormationViolation","",{}]"#,
    r#"[2,"","BootNotification",{"chargePointVendor":"","chargePointModel":"","chargePointSerialNumber":"","chargeBoxSerialNumber":"","firmwareVersion":"","iccid":"","imsi":"","meterType":"","meterSerialNumber":""}][3,"",{"status":"Accepted","currentTime":"2026-01-01T00:00:00.000Z","interval":300}][3,"",{"status":"Pending","currentTime":"","interval":60}]"#,
    r#"[2,"","RemoteStartTransaction",{"connectorId":1,"idTag":""}][2,"","RemoteStopTransaction",{"transactionId":1}]"#,
    r#"[2,"","StopTransaction",{"idTag":"","meterStop":0,"timestamp":"2026-01-01T00:00:00.000Z","transactionId":1,"reason":"Local","transactionData":[{"timestamp":"","sampledValue":[{"value":"","context":"Transaction.End","measurand":"Energy.Active.Import.Register","unit":"Wh"}]}]}]"#,
    r#"{"reason":"EVDisconnected"}{"reason":"Remote"}{"reason":"EmergencyStop"}{"reason":"PowerLoss"}{"reason":"DeAuthorized"}"#,
    r#"[2,"","StartTransaction",{"connectorId":1,"idTag":"","meterStart":0,"timestamp":"2026-01-01T00:00:00.000Z","reservationId":0}][3,"",{"idTagInfo":{"status":"Accepted","expiryDate":"","parentIdTag":""},"transactionId":1}]"#,
    r#"[2,"","Authorize",{"idTag":""}][3,"",{"idTagInfo":{"status":"Accepted"}}][3,"",{"idTagInfo":{"status":"Invalid"}}][3,"",{"idTagInfo":{"status":"Blocked"}}][3,"",{"idTagInfo":{"status":"Expired"}}][3,"",{"idTagInfo":{"status":"ConcurrentTx"}}]"#,
    r#"{"errorCode":"ConnectorLockFailure"}{"errorCode":"EVCommunicationError"}{"errorCode":"GroundFailure"}{"errorCode":"HighTemperature"}{"errorCode":"InternalError"}{"errorCode":"LocalListConflict"}{"errorCode":"OtherError"}{"errorCode":"OverCurrentFailure"}{"errorCode":"OverVoltage"}{"errorCode":"PowerMeterFailure"}{"errorCode":"PowerSwitchFailure"}{"errorCode":"ReaderFailure"}{"errorCode":"ResetFailure"}{"errorCode":"UnderVoltage"}{"errorCode":"WeakSignal"}"#,
    r#"{"status":"Available"}{"status":"Preparing"}{"status":"Charging"}{"status":"SuspendedEVSE"}{"status":"SuspendedEV"}{"status":"Finishing"}{"status":"Reserved"}{"status":"Unavailable"}{"status":"Faulted"},"info":"","vendorId":"","vendorErrorCode":""}"#,
    r#"[2,"","StatusNotification",{"connectorId":1,"errorCode":"NoError","status":"Available","timestamp":"2026-01-01T00:00:00.000Z"}][3,"",{}]"#,
    r#"{"value":"","context":"Sample.Clock","format":"Raw","measurand":"Voltage","phase":"L1-N","location":"Outlet","unit":"V"}"#,
    r#"{"value":"","context":"Sample.Periodic","format":"Raw","measurand":"Temperature","location":"Body","unit":"Celsius"}"#,
    r#"{"value":"","context":"Sample.Periodic","measurand":"Current.Offered","unit":"A"},{"value":"","context":"Sample.Periodic","measurand":"Power.Offered","unit":"W"},{"value":"","context":"Sample.Periodic","measurand":"Energy.Active.Import.Interval","unit":"kWh"}"#,
    r#"{"value":"","context":"Sample.Periodic","measurand":"Current.Import","phase":"L1","unit":"A"},{"value":"","context":"Sample.Periodic","measurand":"Current.Import","phase":"L2","unit":"A"},{"value":"","context":"Sample.Periodic","measurand":"Current.Import","phase":"L3","unit":"A"}"#,
    r#"[2,"","MeterValues",{"connectorId":1,"transactionId":1,"meterValue":[{"timestamp":"2026-01-01T00:00:00.000Z","sampledValue":[{"value":"","context":"Sample.Periodic","format":"Raw","measurand":"Energy.Active.Import.Register","location":"Outlet","unit":"Wh"},{"value":"","context":"Sample.Periodic","measurand":"Power.Active.Import","unit":"W"},{"value":"","context":"Sample.Periodic","measurand":"SoC","location":"EV","unit":"Percent"}]}]}]"#,
    r#"[2,"","Heartbeat",{}][3,"",{"currentTime":"2026-01-01T00:00:00.000Z"}][3,"",{}]"#,
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_dictionary_is_a_finalized_zstd_dictionary_of_the_v1_content() {
        let dict = builtin();
        assert_eq!(&dict[..4], &0xEC30_A437u32.to_le_bytes(), "zstd dictionary magic");
        assert!(dict.ends_with(BUILTIN_V1.as_bytes()), "the content is kept whole, at the end");
        assert_eq!(zstd::zstd_safe::get_dict_id_from_dict(dict).map(|id| id.get()), Some(DICT_ID_V2));
        assert_eq!(own_frames(BUILTIN_V1.as_bytes()).concat(), BUILTIN_V1.as_bytes());
        let frames = own_frames(BUILTIN_V1.as_bytes()).len();
        let copies = filled_copies(BUILTIN_V1);
        assert_eq!(copies.len() as u64, SAMPLE_COPIES);
        for copy in &copies {
            assert!(!copy.contains("\"\""), "every empty value is filled in");
            assert_eq!(own_frames(copy.as_bytes()).len(), frames, "the frames keep their shape");
        }
        assert_ne!(copies[0], copies[1], "each copy has values of its own")
    }
}

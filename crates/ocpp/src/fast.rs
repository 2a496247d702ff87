//! A fast path for the most frequent CALL, MeterValues: the frame's text decoded straight
//! into the typed request in one pass, instead of a `serde_json::Value` that
//! [`crate::validate`] then walks.
//!
//! The fast path can only **accept**. Whatever it does not accept goes the usual way
//! ([`crate::Frame::decode`], then [`crate::validate_request`]), which gives the CALLERROR
//! it always gave, so the fast path never changes an answer. What it accepts, the usual
//! way accepts with the same typed request (the test `fast_path_only_accepts_what_the_validator_accepts`
//! runs a corpus of valid and broken frames through both, `random_edits_never_make_the_fast_path_disagree`
//! random edits of them, and the fuzz target `frame_decode` arbitrary input):
//!
//! - The typed request's `Deserialize` is the validator's check (it is what
//!   [`crate::validate`] runs over the `Value`). `serde_json` reading the text is more
//!   lenient than the validator's deserializer in two ways only: it reads `null` as an
//!   absent optional field, and it reads a JSON array as a struct. A scan of the text before
//!   the parse closes both: no `null` outside strings, and no array anywhere but as the
//!   value of an object's field (and the frame itself), which is the only place MeterValues
//!   has arrays.
//! - Duplicate keys make the typed parse fail (the `Value` keeps the last): they go the
//!   usual way. So do frames with an escaped action name, a unique id OCPP-J refuses, more
//!   or fewer than four elements, or a message type id that is not the integer `2`.

use crate::frame::MAX_UNIQUE_ID_LEN;
use crate::messages::MeterValuesReq;
use serde::Deserialize;

/// A MeterValues CALL decoded by the fast path: framing and payload already valid.
#[derive(Debug, Clone, PartialEq)]
pub struct MeterValuesCall {
    pub unique_id: String,
    pub request: MeterValuesReq,
}

/// The frame `[2, "<id>", "MeterValues", {payload}]` with a valid payload, or `None` when
/// the text is anything else or anything the fast path is not sure of.
pub fn meter_values_call(text: &str) -> Option<MeterValuesCall> {
    if memchr::memmem::find(text.as_bytes(), br#""MeterValues""#).is_none() || !strict_shape(text.as_bytes()) {
        return None;
    }
    #[derive(Deserialize)]
    struct Call<'a>(u8, String, &'a str, MeterValuesReq);
    let Call(type_id, unique_id, action, request) = serde_json::from_str(text).ok()?;
    let id_ok = !unique_id.is_empty() && unique_id.len() <= MAX_UNIQUE_ID_LEN;
    (type_id == 2 && action == "MeterValues" && id_ok).then_some(MeterValuesCall { unique_id, request })
}

/// The text starts an array, has no `null` outside strings, and every other array is the
/// value of an object's field (`:` before its `[`). Strings are skipped with their escapes
/// (`memchr` to their end: most of a frame's bytes are in strings); malformed JSON may pass,
/// the parse rejects it.
fn strict_shape(text: &[u8]) -> bool {
    let Some(first) = text.iter().position(|b| !b.is_ascii_whitespace()) else { return false };
    if text[first] != b'[' {
        return false;
    }
    let (mut at, mut last) = (first + 1, b'[');
    while let Some(&b) = text.get(at) {
        match b {
            b'"' => match string_end(text, at + 1) {
                Some(end) => {
                    (at, last) = (end, b'"');
                    continue;
                }
                None => return true,
            },
            // `null` is the only JSON literal with an `n` (numbers have none either).
            b'n' => return false,
            b'[' if last != b':' => return false,
            _ => {}
        }
        if !b.is_ascii_whitespace() {
            last = b;
        }
        at += 1;
    }
    true
}

/// Just past the `"` that closes the string whose content starts at `from`; `None` when the
/// text ends first.
fn string_end(text: &[u8], mut from: usize) -> Option<usize> {
    loop {
        let at = from + memchr::memchr2(b'"', b'\\', text.get(from..)?)?;
        if text[at] == b'"' {
            return Some(at + 1);
        }
        from = at + 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::parse_request;
    use crate::{validate_request, Action, Frame};

    const VALID: &str = r#"[2,"mv-1","MeterValues",{"connectorId":1,"transactionId":7,"meterValue":[{"timestamp":"2026-12-05T10:00:00.000Z","sampledValue":[{"value":"1234.5","context":"Sample.Periodic","measurand":"Energy.Active.Import.Register","unit":"Wh"},{"value":"16.0","measurand":"Current.Import","phase":"L1","unit":"A"},{"value":"230","measurand":"Voltage","unit":"V","location":"Outlet","format":"Raw"},{"value":"3.7","measurand":"Power.Active.Import","unit":"kW"}]}]}]"#;

    /// The usual way: decode, validate, parse. `Some` when it accepts.
    fn usual_way(text: &str) -> Option<MeterValuesCall> {
        let Ok(Frame::Call { unique_id, action, payload }) = Frame::decode(text) else { return None };
        if action != "MeterValues" || validate_request(Action::MeterValues, &payload).is_err() {
            return None;
        }
        let request = parse_request::<MeterValuesReq>(&payload).ok()?;
        Some(MeterValuesCall { unique_id, request })
    }

    fn corpus() -> Vec<String> {
        let mut texts: Vec<String> = vec![
            VALID.into(),
            r#"[2,"a","MeterValues",{"connectorId":0,"meterValue":[{"timestamp":"2026-01-01T00:00:00Z","sampledValue":[{"value":"1"}]}]}]"#.into(),
            r#" [ 2 , "a" , "MeterValues" , { "connectorId" : 2 , "meterValue" : [ { "timestamp" : "2026-01-01T00:00:00+01:00" , "sampledValue" : [ { "value" : "n[ull]" } ] } ] } ] "#.into(),
            r#"[2,"a\"b","MeterValues",{"connectorId":1,"meterValue":[{"timestamp":"2026-01-01T00:00:00Z","sampledValue":[{"value":"\u00e9\\"}]}]}]"#.into(),
            r#"[2,"a","MeterValues",{"connectorId":1,"meterValue":[{"timestamp":"2026-01-01T00:00:00Z","sampledValue":[{"value":"1"},{"value":"2"}]},{"timestamp":"2026-01-01T00:00:01Z","sampledValue":[{"value":"3"}]}]}]"#.into(),
        ];
        // Each a way of breaking the valid frame, most of which the validator refuses.
        let edits: &[(&str, &str)] = &[
            (r#""transactionId":7"#, r#""transactionId":null"#),
            (r#","context":"Sample.Periodic""#, r#","context":null"#),
            (r#"{"value":"16.0""#, r#"["16.0""#),
            (
                r#""meterValue":[{"timestamp":"2026-12-05T10:00:00.000Z","#,
                r#""meterValue":[["2026-12-05T10:00:00.000Z","#,
            ),
            (r#""connectorId":1,"#, r#""connectorId":1,"connectorId":2,"#),
            (r#""connectorId":1,"#, r#""connectorId":1.0,"#),
            (r#""connectorId":1,"#, r#""connectorId":"1","#),
            (r#""connectorId":1,"#, r#""connectorId":-1,"#),
            (r#""connectorId":1,"#, r#""connectorId":4294967296,"#),
            (r#""connectorId":1,"#, ""),
            (r#""connectorId":1,"#, r#""connectorId":1,"extra":true,"#),
            (r#""unit":"Wh""#, r#""unit":"wh""#),
            (r#""2026-12-05T10:00:00.000Z""#, r#""yesterday""#),
            (r#""value":"1234.5","#, r#""value":1234.5,"#),
            (r#""value":"1234.5","#, ""),
            (r#"[2,"mv-1""#, r#"[2.0,"mv-1""#),
            (r#"[2,"mv-1""#, r#"[3,"mv-1""#),
            (r#"[2,"mv-1""#, r#"[2,"""#),
            (r#"[2,"mv-1""#, r#"[2,"0123456789012345678901234567890123456""#),
            (r#""MeterValues""#, r#""Meter\u0056alues""#),
            (r#""MeterValues""#, r#""StatusNotification""#),
            (r#"]}]}]"#, r#"]}]},1]"#),
            (r#"]}]}]"#, r#"]}]}"#),
            (r#""meterValue":[{"#, r#""meterValue":[],"x":[{"#),
        ];
        for (from, to) in edits {
            assert!(VALID.contains(from), "{from}");
            texts.push(VALID.replacen(from, to, 1));
        }
        texts.push(r#"[2,"a","MeterValues",["1",[]]]"#.into());
        texts.push(r#"[2,"a","MeterValues",{"connectorId":1,"meterValue":[]}]"#.into());
        texts.push(r#"[2,"a","MeterValues",{"connectorId":1,"meterValue":[{"timestamp":"2026-01-01T00:00:00Z","sampledValue":[]}]}]"#.into());
        texts.push("[2,\"a\",\"MeterValues\",{\"connectorId\":1,\"meterValue\":[{\"timestamp\":\"2026-01-01T00:00:00Z\",\"sampledValue\":[{\"value\":\"\\ud800\"}]}]}]".into());
        texts.push("not json \"MeterValues\"".into());
        texts
    }

    #[test]
    fn fast_path_only_accepts_what_the_validator_accepts() {
        let mut accepted = 0;
        for text in corpus() {
            let (fast, usual) = (meter_values_call(&text), usual_way(&text));
            match (&fast, &usual) {
                (Some(_), _) => {
                    accepted += 1;
                    assert_eq!(usual, fast, "the fast path accepted what the usual way does not: {text}");
                }
                // Valid, but the fast path is not sure: a duplicate key, an escaped action name.
                (None, Some(_)) => {
                    assert!(text.contains(r#""connectorId":2,"#) || text.contains("u0056"), "{text}")
                }
                (None, None) => {}
            }
        }
        // Five valid frames and the negative connector id (the schema sets no minimum).
        assert_eq!(accepted, 6);
    }

    /// Random edits of valid frames (a fixed seed, so that a failure repeats): whatever the
    /// fast path accepts, the usual way accepts with the same request.
    #[test]
    fn random_edits_never_make_the_fast_path_disagree() {
        const ALPHABET: &[u8] = br#"{}[]:,"\ nul0123456789.-+eEtrfalsxyzWhAV"#;
        let frames: Vec<String> = corpus().into_iter().filter(|t| usual_way(t).is_some()).collect();
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let (mut accepted, mut tried) = (0, 0);
        for _ in 0..20_000 {
            let mut bytes = frames[next(frames.len())].clone().into_bytes();
            for _ in 0..1 + next(3) {
                let at = next(bytes.len());
                match next(3) {
                    0 => {
                        bytes.remove(at);
                    }
                    1 => bytes.insert(at, ALPHABET[next(ALPHABET.len())]),
                    _ => bytes[at] = ALPHABET[next(ALPHABET.len())],
                }
            }
            let Ok(text) = String::from_utf8(bytes) else { continue };
            tried += 1;
            if let Some(fast) = meter_values_call(&text) {
                accepted += 1;
                assert_eq!(usual_way(&text), Some(fast), "the fast path accepted what the usual way does not: {text}");
            }
        }
        // Some edits keep the frame valid (a digit for a digit, a letter inside a value).
        assert!(tried > 19_000 && accepted > 100, "{tried} tried, {accepted} accepted");
    }

    #[test]
    fn fast_path_takes_the_valid_frames() {
        let call = meter_values_call(VALID).expect("accepted");
        assert_eq!(call.unique_id, "mv-1");
        assert_eq!(call.request.transaction_id, Some(7));
        assert_eq!(call.request.meter_value[0].sampled_value.len(), 4);
    }

    #[test]
    fn shape_scan_skips_strings_and_refuses_nulls_and_nested_arrays() {
        assert!(strict_shape(br#"[2,"x[[null","A",{"k":[{"s":"\"n"}]}]"#));
        assert!(!strict_shape(br#"[2,"x","A",{"k":null}]"#));
        assert!(!strict_shape(br#"[2,"x","A",{"k":[[1]]}]"#));
        assert!(!strict_shape(br#"[2,"x","A",[1]]"#));
        assert!(!strict_shape(br#"{"k":[1]}"#));
        assert!(!strict_shape(br#"[2,"x\\","A",{"k":null}]"#), "an escaped backslash ends nothing");
        assert!(strict_shape(br#"[2,"x\\\"n[","A",{}]"#), "an escaped quote does not end the string");
        assert!(strict_shape(b"[2,\"unterminated"), "the parse refuses it");
        assert!(!strict_shape(b"  "));
    }
}

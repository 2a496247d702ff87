//! Small helpers: timestamps, payload field access with OCPP-J error codes, base64.

use chargewatch_ocpp::ErrorCode;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;
use std::time::Duration;

/// An error answered to the central system as a CALLERROR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallErr {
    pub code: ErrorCode,
    pub description: String,
}

impl CallErr {
    pub fn new(code: ErrorCode, description: impl Into<String>) -> CallErr {
        CallErr { code, description: description.into() }
    }
}

/// RFC 3339 in UTC with milliseconds and `Z`, as OCPP-J wants it.
pub fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Parses an OCPP dateTime (any RFC 3339 variant).
pub fn parse_ts(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&Utc))
}

pub fn chrono_dur(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// `d` divided by the time scale (a scale > 1 compresses time).
pub fn scaled(d: Duration, time_scale: f64) -> chrono::Duration {
    let s = if time_scale > 0.0 && time_scale.is_finite() { time_scale } else { 1.0 };
    chrono::Duration::milliseconds(((d.as_secs_f64() / s) * 1000.0).clamp(1.0, 1e15) as i64)
}

fn missing(field: &str) -> CallErr {
    CallErr::new(ErrorCode::OccurenceConstraintViolation, format!("required field {field} is missing"))
}

fn wrong_type(field: &str, ty: &str) -> CallErr {
    CallErr::new(ErrorCode::TypeConstraintViolation, format!("field {field} must be {ty}"))
}

pub fn opt_str<'a>(p: &'a Value, field: &str) -> Result<Option<&'a str>, CallErr> {
    match p.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(wrong_type(field, "a string")),
    }
}

pub fn req_str<'a>(p: &'a Value, field: &str) -> Result<&'a str, CallErr> {
    opt_str(p, field)?.ok_or_else(|| missing(field))
}

pub fn opt_int(p: &Value, field: &str) -> Result<Option<i64>, CallErr> {
    match p.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => {
            if let Some(i) = v.as_i64() {
                Ok(Some(i))
            } else if let Some(f) = v.as_f64().filter(|f| f.fract() == 0.0) {
                Ok(Some(f as i64))
            } else {
                Err(wrong_type(field, "an integer"))
            }
        }
    }
}

pub fn req_int(p: &Value, field: &str) -> Result<i64, CallErr> {
    opt_int(p, field)?.ok_or_else(|| missing(field))
}

pub fn opt_num(p: &Value, field: &str) -> Result<Option<f64>, CallErr> {
    match p.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_f64().map(Some).ok_or_else(|| wrong_type(field, "a number")),
    }
}

pub fn req_num(p: &Value, field: &str) -> Result<f64, CallErr> {
    opt_num(p, field)?.ok_or_else(|| missing(field))
}

pub fn opt_time(p: &Value, field: &str) -> Result<Option<DateTime<Utc>>, CallErr> {
    match opt_str(p, field)? {
        None => Ok(None),
        Some(s) => parse_ts(s).map(Some).ok_or_else(|| {
            CallErr::new(ErrorCode::PropertyConstraintViolation, format!("field {field} is not a dateTime"))
        }),
    }
}

pub fn req_time(p: &Value, field: &str) -> Result<DateTime<Utc>, CallErr> {
    opt_time(p, field)?.ok_or_else(|| missing(field))
}

/// Checks a string field against an enumeration.
pub fn req_enum<'a>(p: &'a Value, field: &str, allowed: &[&str]) -> Result<&'a str, CallErr> {
    let s = req_str(p, field)?;
    check_enum(s, field, allowed)
}

pub fn opt_enum<'a>(p: &'a Value, field: &str, allowed: &[&str]) -> Result<Option<&'a str>, CallErr> {
    match opt_str(p, field)? {
        None => Ok(None),
        Some(s) => check_enum(s, field, allowed).map(Some),
    }
}

fn check_enum<'a>(s: &'a str, field: &str, allowed: &[&str]) -> Result<&'a str, CallErr> {
    if allowed.contains(&s) {
        Ok(s)
    } else {
        Err(CallErr::new(
            ErrorCode::PropertyConstraintViolation,
            format!("field {field} has value {s:?}, expected one of {}", allowed.join(", ")),
        ))
    }
}

/// Standard base64 with padding (for the HTTP Basic authorization header).
pub fn base64(input: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = ((b[0] as u32) << 16) | ((b[1] as u32) << 8) | b[2] as u32;
        out.push(T[(n >> 18) as usize & 63] as char);
        out.push(T[(n >> 12) as usize & 63] as char);
        out.push(if chunk.len() > 1 { T[(n >> 6) as usize & 63] as char } else { '=' });
        out.push(if chunk.len() > 2 { T[n as usize & 63] as char } else { '=' });
    }
    out
}

/// Truncates to at most `max` characters (OCPP CiStringN limits).
pub fn trunc(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn timestamps_are_utc_z() {
        let t = parse_ts("2026-01-02T03:04:05+01:00").unwrap();
        assert_eq!(ts(t), "2026-01-02T02:04:05.000Z");
    }
}

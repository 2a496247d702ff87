//! Shared field types of OCPP 1.6: `CiString<N>`, `dateTime`, `decimal`, and every
//! enumeration of the OCPP 1.6 JSON schemas (spelled exactly as the schemas spell them).
//!
//! Deserialization checks what the schemas check (maximum lengths, enumeration values,
//! date-time syntax) and reports a failure through the generic serde error methods, so
//! these types work with any serde deserializer. [`crate::validate`] maps those errors
//! to OCPP-J error codes.

use serde::de::{self, Deserializer, Unexpected, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::str::FromStr;

// ---------------------------------------------------------------------------------------
// CiString
// ---------------------------------------------------------------------------------------

/// A string of at most `N` characters (OCPP `CiStringNType`), compared case-insensitively.
///
/// Equality and hashing ignore ASCII case, as OCPP prescribes for `CiString`s (so
/// `"abc"` and `"ABC"` are the same idTag). The text keeps the case it was sent with.
/// Serializes as a plain JSON string; deserializing a longer string fails.
#[derive(Clone, Default)]
pub struct CiString<const N: usize>(String);

pub type CiString20 = CiString<20>;
pub type CiString25 = CiString<25>;
pub type CiString50 = CiString<50>;
pub type CiString255 = CiString<255>;
pub type CiString500 = CiString<500>;
/// An OCPP `IdToken` (a `CiString20`).
pub type IdToken = CiString20;

/// A string longer than a `CiString`'s limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLong {
    pub max: usize,
    pub len: usize,
}

impl fmt::Display for TooLong {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "longer than {} characters ({} characters)", self.max, self.len)
    }
}

impl std::error::Error for TooLong {}

/// Length in characters (Unicode scalar values, as JSON Schema's `maxLength` counts),
/// or `None` when it certainly fits in `max` (the byte length already does).
fn char_len_over(s: &str, max: usize) -> Option<usize> {
    if s.len() <= max {
        return None;
    }
    let n = s.chars().count();
    (n > max).then_some(n)
}

impl<const N: usize> CiString<N> {
    /// The maximum length in characters.
    pub const MAX_LEN: usize = N;

    /// A `CiString` holding `s`, or [`TooLong`].
    pub fn new(s: impl Into<String>) -> Result<Self, TooLong> {
        let s = s.into();
        match char_len_over(&s, N) {
            Some(len) => Err(TooLong { max: N, len }),
            None => Ok(CiString(s)),
        }
    }

    /// A `CiString` holding `s` cut to at most `N` characters.
    pub fn truncated(s: &str) -> Self {
        match s.char_indices().nth(N) {
            Some((i, _)) => CiString(s[..i].to_string()),
            None => CiString(s.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl<const N: usize> Deref for CiString<N> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl<const N: usize> AsRef<str> for CiString<N> {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl<const N: usize> fmt::Debug for CiString<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl<const N: usize> fmt::Display for CiString<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<const N: usize> PartialEq for CiString<N> {
    fn eq(&self, other: &Self) -> bool {
        self.0.eq_ignore_ascii_case(&other.0)
    }
}

impl<const N: usize> Eq for CiString<N> {}

impl<const N: usize> PartialEq<str> for CiString<N> {
    fn eq(&self, other: &str) -> bool {
        self.0.eq_ignore_ascii_case(other)
    }
}

impl<const N: usize> PartialEq<&str> for CiString<N> {
    fn eq(&self, other: &&str) -> bool {
        self.0.eq_ignore_ascii_case(other)
    }
}

impl<const N: usize> Hash for CiString<N> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        for b in self.0.bytes() {
            state.write_u8(b.to_ascii_lowercase());
        }
        state.write_u8(0xff);
    }
}

impl<const N: usize> TryFrom<String> for CiString<N> {
    type Error = TooLong;
    fn try_from(s: String) -> Result<Self, TooLong> {
        CiString::new(s)
    }
}

impl<const N: usize> TryFrom<&str> for CiString<N> {
    type Error = TooLong;
    fn try_from(s: &str) -> Result<Self, TooLong> {
        CiString::new(s)
    }
}

impl<const N: usize> FromStr for CiString<N> {
    type Err = TooLong;
    fn from_str(s: &str) -> Result<Self, TooLong> {
        CiString::new(s)
    }
}

impl<const N: usize> From<CiString<N>> for String {
    fn from(s: CiString<N>) -> String {
        s.0
    }
}

impl<const N: usize> Serialize for CiString<N> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de, const N: usize> Deserialize<'de> for CiString<N> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V<const N: usize>;
        impl<const N: usize> Visitor<'_> for V<N> {
            type Value = CiString<N>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "a string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                self.visit_string(v.to_string())
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                CiString::new(v).map_err(|e| E::custom(format_args!("longer than {} characters", e.max)))
            }
        }
        deserializer.deserialize_string(V::<N>)
    }
}

// ---------------------------------------------------------------------------------------
// dateTime
// ---------------------------------------------------------------------------------------

/// An OCPP `dateTime`: an instant in UTC.
///
/// Accepts the RFC 3339 variants chargers send: with or without fractional seconds (any
/// number of digits), `Z`/`z` or a numeric offset (`+02:00`, `+0200`, `+02`), `T`, `t`
/// or a space between date and time, and a timestamp with no zone at all, which is taken
/// as UTC. Serializes as UTC with `Z` and millisecond precision
/// (`2026-11-23T10:15:02.123Z`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DateTime(pub chrono::DateTime<chrono::Utc>);

impl DateTime {
    /// The current time, cut to millisecond precision (what goes on the wire).
    pub fn now() -> DateTime {
        DateTime::from_millis(chrono::Utc::now().timestamp_millis()).expect("now is in range")
    }

    /// The instant `ms` milliseconds after the Unix epoch.
    pub fn from_millis(ms: i64) -> Option<DateTime> {
        chrono::DateTime::from_timestamp_millis(ms).map(DateTime)
    }

    pub fn timestamp_millis(&self) -> i64 {
        self.0.timestamp_millis()
    }

    pub fn inner(&self) -> chrono::DateTime<chrono::Utc> {
        self.0
    }

    /// Parses an OCPP dateTime leniently (see the type's documentation).
    pub fn parse(s: &str) -> Option<DateTime> {
        parse_datetime(s).map(DateTime)
    }

    /// The wire form: UTC, `Z`, milliseconds.
    pub fn to_ocpp_string(&self) -> String {
        self.0.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    }
}

impl From<chrono::DateTime<chrono::Utc>> for DateTime {
    fn from(d: chrono::DateTime<chrono::Utc>) -> Self {
        DateTime(d)
    }
}

impl From<DateTime> for chrono::DateTime<chrono::Utc> {
    fn from(d: DateTime) -> Self {
        d.0
    }
}

impl Deref for DateTime {
    type Target = chrono::DateTime<chrono::Utc>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl fmt::Display for DateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_ocpp_string())
    }
}

/// A string that is not an OCPP dateTime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadDateTime;

impl fmt::Display for BadDateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not an RFC 3339 date-time")
    }
}

impl std::error::Error for BadDateTime {}

impl FromStr for DateTime {
    type Err = BadDateTime;
    fn from_str(s: &str) -> Result<Self, BadDateTime> {
        DateTime::parse(s).ok_or(BadDateTime)
    }
}

impl Serialize for DateTime {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&format_args!("{}", self.0.format("%Y-%m-%dT%H:%M:%S%.3fZ")))
    }
}

impl<'de> Deserialize<'de> for DateTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = DateTime;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<DateTime, E> {
                DateTime::parse(v).ok_or_else(|| E::custom(format_args!("not a valid dateTime: {v:?}")))
            }
        }
        deserializer.deserialize_str(V)
    }
}

fn digits(b: &[u8], at: usize, n: usize) -> Option<u32> {
    let s = b.get(at..at + n)?;
    let mut v = 0u32;
    for &c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(c - b'0');
    }
    Some(v)
}

/// Parses `YYYY-MM-DD(T|t| )HH:MM:SS[(.|,)fraction][Z|z|±HH[:MM|MM]]`; no zone means UTC.
pub fn parse_datetime(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    use chrono::{NaiveDate, TimeDelta};
    let b = s.as_bytes();
    let year = digits(b, 0, 4)?;
    if *b.get(4)? != b'-' || *b.get(7)? != b'-' || *b.get(13)? != b':' || *b.get(16)? != b':' {
        return None;
    }
    let month = digits(b, 5, 2)?;
    let day = digits(b, 8, 2)?;
    if !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let hour = digits(b, 11, 2)?;
    let minute = digits(b, 14, 2)?;
    let mut second = digits(b, 17, 2)?;
    let mut i = 19;
    let mut nanos = 0u32;
    if i < b.len() && matches!(b[i], b'.' | b',') {
        i += 1;
        let start = i;
        let mut scale = 100_000_000u32;
        while i < b.len() && b[i].is_ascii_digit() {
            nanos += u32::from(b[i] - b'0') * scale;
            scale /= 10;
            i += 1;
        }
        if i == start {
            return None;
        }
    }
    let offset_secs: i64 = match b.get(i) {
        None => 0,
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        Some(&sign @ (b'+' | b'-')) => {
            let rest = &b[i + 1..];
            let (h, m) = match rest.len() {
                2 => (digits(rest, 0, 2)?, 0),
                4 => (digits(rest, 0, 2)?, digits(rest, 2, 2)?),
                5 if rest[2] == b':' => (digits(rest, 0, 2)?, digits(rest, 3, 2)?),
                _ => return None,
            };
            if h > 23 || m > 59 {
                return None;
            }
            let secs = i64::from(h * 3600 + m * 60);
            if sign == b'-' {
                -secs
            } else {
                secs
            }
        }
        Some(_) => return None,
    };
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    if second == 60 {
        // A leap second: chrono represents it as second 59 with nanos >= 1e9.
        second = 59;
        nanos += 1_000_000_000;
    }
    let naive = NaiveDate::from_ymd_opt(year as i32, month, day)?.and_hms_nano_opt(hour, minute, second, nanos)?;
    let utc = naive.checked_sub_signed(TimeDelta::try_seconds(offset_secs)?)?;
    Some(chrono::DateTime::from_naive_utc_and_offset(utc, chrono::Utc))
}

// ---------------------------------------------------------------------------------------
// decimal
// ---------------------------------------------------------------------------------------

/// An OCPP `decimal`: a JSON number (integer or fractional).
pub type Decimal = f64;

/// Whether `x` is a multiple of 0.1 (the schemas' `multipleOf: 0.1` on charging limits),
/// allowing for binary floating point (7.4 is accepted although 7.4 / 0.1 is not exact).
pub fn is_multiple_of_tenth(x: f64) -> bool {
    if !x.is_finite() {
        return false;
    }
    let t = x * 10.0;
    (t - t.round()).abs() <= 1e-9 * t.abs().max(1.0)
}

/// `deserialize_with` for a decimal with `multipleOf: 0.1`.
pub(crate) fn de_tenths<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let x = f64::deserialize(d)?;
    if is_multiple_of_tenth(x) {
        Ok(x)
    } else {
        Err(de::Error::custom(format_args!("{x} is not a multiple of 0.1")))
    }
}

/// `deserialize_with` for an optional decimal with `multipleOf: 0.1`.
pub(crate) fn de_opt_tenths<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<f64>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("f64")
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            de_tenths(d).map(Some)
        }
    }
    d.deserialize_option(V)
}

/// `deserialize_with` for a URI (`format: uri`): a scheme, `:`, and no whitespace.
pub(crate) fn de_uri<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    if is_uri(&s) {
        Ok(s)
    } else {
        Err(de::Error::invalid_value(Unexpected::Str(&s), &"an absolute URI"))
    }
}

/// Whether `s` looks like an absolute URI: `scheme:rest`, no whitespace or control
/// characters (RFC 3986's scheme syntax; the rest is not checked further).
pub fn is_uri(s: &str) -> bool {
    let Some((scheme, _)) = s.split_once(':') else {
        return false;
    };
    let mut cs = scheme.chars();
    matches!(cs.next(), Some(c) if c.is_ascii_alphabetic())
        && cs.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// `deserialize_with` for an array with `minItems: 1`.
pub(crate) fn de_non_empty<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    let v = Vec::<T>::deserialize(d)?;
    if v.is_empty() {
        Err(de::Error::invalid_length(0, &"at least one item"))
    } else {
        Ok(v)
    }
}

// ---------------------------------------------------------------------------------------
// Enumerations
// ---------------------------------------------------------------------------------------

/// A string that is not a value of an OCPP enumeration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownValue {
    pub enumeration: &'static str,
    pub value: String,
}

impl fmt::Display for UnknownValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} is not a {} value", self.value, self.enumeration)
    }
}

impl std::error::Error for UnknownValue {}

macro_rules! ocpp_enum {
    ($(#[$meta:meta])* $name:ident { $( $variant:ident = $s:literal, )* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $( $variant, )* }

        impl $name {
            /// Every value, in the schema's order.
            pub const ALL: &'static [$name] = &[ $( $name::$variant, )* ];
            /// Every value's wire spelling, in the schema's order.
            pub const VALUES: &'static [&'static str] = &[ $( $s, )* ];

            /// The wire spelling.
            pub fn as_str(self) -> &'static str {
                match self { $( $name::$variant => $s, )* }
            }

            /// The value spelled `s` (exact spelling, as the schema requires).
            pub fn parse(s: &str) -> Option<$name> {
                match s { $( $s => Some($name::$variant), )* _ => None }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownValue;
            fn from_str(s: &str) -> Result<Self, UnknownValue> {
                $name::parse(s).ok_or_else(|| UnknownValue { enumeration: stringify!($name), value: s.to_string() })
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct V;
                impl Visitor<'_> for V {
                    type Value = $name;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str("a string")
                    }
                    fn visit_str<E: de::Error>(self, v: &str) -> Result<$name, E> {
                        $name::parse(v).ok_or_else(|| E::unknown_variant(v, $name::VALUES))
                    }
                }
                deserializer.deserialize_str(V)
            }
        }
    };
}

ocpp_enum! {
    /// `StatusNotification.req.status`.
    ChargePointStatus {
        Available = "Available",
        Preparing = "Preparing",
        Charging = "Charging",
        SuspendedEVSE = "SuspendedEVSE",
        SuspendedEV = "SuspendedEV",
        Finishing = "Finishing",
        Reserved = "Reserved",
        Unavailable = "Unavailable",
        Faulted = "Faulted",
    }
}

ocpp_enum! {
    /// `StatusNotification.req.errorCode`.
    ChargePointErrorCode {
        ConnectorLockFailure = "ConnectorLockFailure",
        EVCommunicationError = "EVCommunicationError",
        GroundFailure = "GroundFailure",
        HighTemperature = "HighTemperature",
        InternalError = "InternalError",
        LocalListConflict = "LocalListConflict",
        NoError = "NoError",
        OtherError = "OtherError",
        OverCurrentFailure = "OverCurrentFailure",
        PowerMeterFailure = "PowerMeterFailure",
        PowerSwitchFailure = "PowerSwitchFailure",
        ReaderFailure = "ReaderFailure",
        ResetFailure = "ResetFailure",
        UnderVoltage = "UnderVoltage",
        OverVoltage = "OverVoltage",
        WeakSignal = "WeakSignal",
    }
}

ocpp_enum! {
    /// `BootNotification.conf.status`.
    RegistrationStatus {
        Accepted = "Accepted",
        Pending = "Pending",
        Rejected = "Rejected",
    }
}

ocpp_enum! {
    /// `IdTagInfo.status`.
    AuthorizationStatus {
        Accepted = "Accepted",
        Blocked = "Blocked",
        Expired = "Expired",
        Invalid = "Invalid",
        ConcurrentTx = "ConcurrentTx",
    }
}

ocpp_enum! {
    /// `ChangeAvailability.req.type`.
    AvailabilityType {
        Inoperative = "Inoperative",
        Operative = "Operative",
    }
}

ocpp_enum! {
    /// `ChangeAvailability.conf.status`.
    AvailabilityStatus {
        Accepted = "Accepted",
        Rejected = "Rejected",
        Scheduled = "Scheduled",
    }
}

ocpp_enum! {
    /// `ChangeConfiguration.conf.status`.
    ConfigurationStatus {
        Accepted = "Accepted",
        Rejected = "Rejected",
        RebootRequired = "RebootRequired",
        NotSupported = "NotSupported",
    }
}

ocpp_enum! {
    /// `ClearCache.conf.status`.
    ClearCacheStatus {
        Accepted = "Accepted",
        Rejected = "Rejected",
    }
}

ocpp_enum! {
    /// `DataTransfer.conf.status`.
    DataTransferStatus {
        Accepted = "Accepted",
        Rejected = "Rejected",
        UnknownMessageId = "UnknownMessageId",
        UnknownVendorId = "UnknownVendorId",
    }
}

ocpp_enum! {
    /// `RemoteStartTransaction.conf.status`, `RemoteStopTransaction.conf.status`.
    RemoteStartStopStatus {
        Accepted = "Accepted",
        Rejected = "Rejected",
    }
}

ocpp_enum! {
    /// `Reset.req.type`.
    ResetType {
        Hard = "Hard",
        Soft = "Soft",
    }
}

ocpp_enum! {
    /// `Reset.conf.status`.
    ResetStatus {
        Accepted = "Accepted",
        Rejected = "Rejected",
    }
}

ocpp_enum! {
    /// `UnlockConnector.conf.status`.
    UnlockStatus {
        Unlocked = "Unlocked",
        UnlockFailed = "UnlockFailed",
        NotSupported = "NotSupported",
    }
}

ocpp_enum! {
    /// `DiagnosticsStatusNotification.req.status`.
    DiagnosticsStatus {
        Idle = "Idle",
        Uploaded = "Uploaded",
        UploadFailed = "UploadFailed",
        Uploading = "Uploading",
    }
}

ocpp_enum! {
    /// `FirmwareStatusNotification.req.status`.
    FirmwareStatus {
        Downloaded = "Downloaded",
        DownloadFailed = "DownloadFailed",
        Downloading = "Downloading",
        Idle = "Idle",
        InstallationFailed = "InstallationFailed",
        Installing = "Installing",
        Installed = "Installed",
    }
}

ocpp_enum! {
    /// `SendLocalList.req.updateType`.
    UpdateType {
        Differential = "Differential",
        Full = "Full",
    }
}

ocpp_enum! {
    /// `SendLocalList.conf.status`.
    UpdateStatus {
        Accepted = "Accepted",
        Failed = "Failed",
        NotSupported = "NotSupported",
        VersionMismatch = "VersionMismatch",
    }
}

ocpp_enum! {
    /// `CancelReservation.conf.status`.
    CancelReservationStatus {
        Accepted = "Accepted",
        Rejected = "Rejected",
    }
}

ocpp_enum! {
    /// `ReserveNow.conf.status`.
    ReservationStatus {
        Accepted = "Accepted",
        Faulted = "Faulted",
        Occupied = "Occupied",
        Rejected = "Rejected",
        Unavailable = "Unavailable",
    }
}

ocpp_enum! {
    /// `ChargingProfile.chargingProfilePurpose`.
    ChargingProfilePurposeType {
        ChargePointMaxProfile = "ChargePointMaxProfile",
        TxDefaultProfile = "TxDefaultProfile",
        TxProfile = "TxProfile",
    }
}

ocpp_enum! {
    /// `ChargingProfile.chargingProfileKind`.
    ChargingProfileKindType {
        Absolute = "Absolute",
        Recurring = "Recurring",
        Relative = "Relative",
    }
}

ocpp_enum! {
    /// `ChargingProfile.recurrencyKind`.
    RecurrencyKindType {
        Daily = "Daily",
        Weekly = "Weekly",
    }
}

ocpp_enum! {
    /// `ChargingSchedule.chargingRateUnit`.
    ChargingRateUnitType {
        A = "A",
        W = "W",
    }
}

ocpp_enum! {
    /// `SetChargingProfile.conf.status`.
    ChargingProfileStatus {
        Accepted = "Accepted",
        Rejected = "Rejected",
        NotSupported = "NotSupported",
    }
}

ocpp_enum! {
    /// `ClearChargingProfile.conf.status`.
    ClearChargingProfileStatus {
        Accepted = "Accepted",
        Unknown = "Unknown",
    }
}

ocpp_enum! {
    /// `GetCompositeSchedule.conf.status`.
    GetCompositeScheduleStatus {
        Accepted = "Accepted",
        Rejected = "Rejected",
    }
}

ocpp_enum! {
    /// `TriggerMessage.req.requestedMessage`.
    MessageTrigger {
        BootNotification = "BootNotification",
        DiagnosticsStatusNotification = "DiagnosticsStatusNotification",
        FirmwareStatusNotification = "FirmwareStatusNotification",
        Heartbeat = "Heartbeat",
        MeterValues = "MeterValues",
        StatusNotification = "StatusNotification",
    }
}

ocpp_enum! {
    /// `TriggerMessage.conf.status`.
    TriggerMessageStatus {
        Accepted = "Accepted",
        Rejected = "Rejected",
        NotImplemented = "NotImplemented",
    }
}

ocpp_enum! {
    /// `StopTransaction.req.reason`.
    Reason {
        EmergencyStop = "EmergencyStop",
        EVDisconnected = "EVDisconnected",
        HardReset = "HardReset",
        Local = "Local",
        Other = "Other",
        PowerLoss = "PowerLoss",
        Reboot = "Reboot",
        Remote = "Remote",
        SoftReset = "SoftReset",
        UnlockCommand = "UnlockCommand",
        DeAuthorized = "DeAuthorized",
    }
}

ocpp_enum! {
    /// `SampledValue.context`.
    ReadingContext {
        InterruptionBegin = "Interruption.Begin",
        InterruptionEnd = "Interruption.End",
        SampleClock = "Sample.Clock",
        SamplePeriodic = "Sample.Periodic",
        TransactionBegin = "Transaction.Begin",
        TransactionEnd = "Transaction.End",
        Trigger = "Trigger",
        Other = "Other",
    }
}

ocpp_enum! {
    /// `SampledValue.format`.
    ValueFormat {
        Raw = "Raw",
        SignedData = "SignedData",
    }
}

ocpp_enum! {
    /// `SampledValue.measurand`.
    Measurand {
        EnergyActiveExportRegister = "Energy.Active.Export.Register",
        EnergyActiveImportRegister = "Energy.Active.Import.Register",
        EnergyReactiveExportRegister = "Energy.Reactive.Export.Register",
        EnergyReactiveImportRegister = "Energy.Reactive.Import.Register",
        EnergyActiveExportInterval = "Energy.Active.Export.Interval",
        EnergyActiveImportInterval = "Energy.Active.Import.Interval",
        EnergyReactiveExportInterval = "Energy.Reactive.Export.Interval",
        EnergyReactiveImportInterval = "Energy.Reactive.Import.Interval",
        PowerActiveExport = "Power.Active.Export",
        PowerActiveImport = "Power.Active.Import",
        PowerOffered = "Power.Offered",
        PowerReactiveExport = "Power.Reactive.Export",
        PowerReactiveImport = "Power.Reactive.Import",
        PowerFactor = "Power.Factor",
        CurrentImport = "Current.Import",
        CurrentExport = "Current.Export",
        CurrentOffered = "Current.Offered",
        Voltage = "Voltage",
        Frequency = "Frequency",
        Temperature = "Temperature",
        SoC = "SoC",
        RPM = "RPM",
    }
}

ocpp_enum! {
    /// `SampledValue.phase`.
    Phase {
        L1 = "L1",
        L2 = "L2",
        L3 = "L3",
        N = "N",
        L1N = "L1-N",
        L2N = "L2-N",
        L3N = "L3-N",
        L1L2 = "L1-L2",
        L2L3 = "L2-L3",
        L3L1 = "L3-L1",
    }
}

ocpp_enum! {
    /// `SampledValue.location`.
    Location {
        Cable = "Cable",
        EV = "EV",
        Inlet = "Inlet",
        Outlet = "Outlet",
        Body = "Body",
    }
}

ocpp_enum! {
    /// `SampledValue.unit`. The official schema lists both `Celcius` (sic) and `Celsius`;
    /// `Hertz` is not in the 1.6 schema (only in the PyPI `ocpp` package's patched
    /// MeterValues schema) but is the unit real chargers send with `Frequency`.
    UnitOfMeasure {
        Wh = "Wh",
        KWh = "kWh",
        Varh = "varh",
        Kvarh = "kvarh",
        W = "W",
        KW = "kW",
        VA = "VA",
        KVA = "kVA",
        Var = "var",
        Kvar = "kvar",
        A = "A",
        V = "V",
        K = "K",
        Celcius = "Celcius",
        Celsius = "Celsius",
        Fahrenheit = "Fahrenheit",
        Percent = "Percent",
        Hertz = "Hertz",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dt(s: &str) -> String {
        DateTime::parse(s).map(|d| d.to_ocpp_string()).unwrap_or_else(|| "NONE".into())
    }

    #[test]
    fn datetime_variants() {
        assert_eq!(dt("2026-11-23T10:15:02Z"), "2026-11-23T10:15:02.000Z");
        assert_eq!(dt("2026-11-23T10:15:02.123Z"), "2026-11-23T10:15:02.123Z");
        assert_eq!(dt("2026-11-23T10:15:02.1234567z"), "2026-11-23T10:15:02.123Z");
        assert_eq!(dt("2026-11-23T10:15:02.5"), "2026-11-23T10:15:02.500Z");
        assert_eq!(dt("2026-11-23T10:15:02"), "2026-11-23T10:15:02.000Z");
        assert_eq!(dt("2026-11-23 10:15:02+02:00"), "2026-11-23T08:15:02.000Z");
        assert_eq!(dt("2026-11-23T10:15:02.1-0130"), "2026-11-23T11:45:02.100Z");
        assert_eq!(dt("2026-11-23T00:15:02+01"), "2026-11-22T23:15:02.000Z");
        assert_eq!(dt("2016-12-31T23:59:60Z"), "2016-12-31T23:59:60.000Z");
        for bad in [
            "",
            "2026-11-23",
            "2026-13-01T00:00:00Z",
            "2026-02-30T00:00:00Z",
            "2026-11-23T24:00:00Z",
            "2026-11-23T10:15:02.Z",
            "2026-11-23T10:15:02ZZ",
            "2026-11-23T10:15:02+2:00",
            "2026-11-23X10:15:02Z",
            "2026-11-23T10:15:02 UTC",
            "1700000000",
        ] {
            assert_eq!(dt(bad), "NONE", "{bad}");
        }
    }

    #[test]
    fn datetime_serializes_utc_millis() {
        let d = DateTime::parse("2026-11-23T10:15:02.123456+01:00").unwrap();
        assert_eq!(serde_json::to_string(&d).unwrap(), "\"2026-11-23T09:15:02.123Z\"");
    }

    #[test]
    fn ci_string_limits_and_case() {
        assert!(CiString20::new("a".repeat(20)).is_ok());
        assert_eq!(CiString20::new("a".repeat(21)), Err(TooLong { max: 20, len: 21 }));
        // 20 characters, 40 bytes
        assert!(CiString20::new("ä".repeat(20)).is_ok());
        assert_eq!(CiString20::new("abc").unwrap(), CiString20::new("ABC").unwrap());
        assert_eq!(CiString20::truncated(&"é".repeat(30)).chars().count(), 20);
        let e = serde_json::from_str::<CiString20>(&format!("\"{}\"", "x".repeat(21))).unwrap_err();
        assert!(e.to_string().contains("longer than 20 characters"), "{e}");
    }

    #[test]
    fn enums_spell_like_the_schema() {
        assert_eq!(Measurand::EnergyActiveImportRegister.as_str(), "Energy.Active.Import.Register");
        assert_eq!(Phase::L1N.as_str(), "L1-N");
        assert_eq!(ReadingContext::parse("Sample.Periodic"), Some(ReadingContext::SamplePeriodic));
        assert_eq!(UnitOfMeasure::parse("Celcius"), Some(UnitOfMeasure::Celcius));
        assert_eq!(UnitOfMeasure::parse("Celsius"), Some(UnitOfMeasure::Celsius));
        assert_eq!(Measurand::ALL.len(), 22);
        assert_eq!(ChargePointErrorCode::ALL.len(), 16);
        for u in UnitOfMeasure::ALL {
            assert_eq!(u.as_str().parse::<UnitOfMeasure>(), Ok(*u));
        }
        assert!("accepted".parse::<RegistrationStatus>().is_err());
    }

    #[test]
    fn tenths_and_uris() {
        for ok in [0.0, 7.4, 16.0, 32.1, 0.3, 11000.0, -1.2] {
            assert!(is_multiple_of_tenth(ok), "{ok}");
        }
        for bad in [6.25, 0.05, 13.333, f64::NAN] {
            assert!(!is_multiple_of_tenth(bad), "{bad}");
        }
        assert!(is_uri("ftp://user:pw@host/path"));
        assert!(is_uri("https://example.com/fw.bin"));
        assert!(!is_uri("example.com/fw.bin"));
        assert!(!is_uri("1http://x"));
        assert!(!is_uri("http://a b"));
    }
}

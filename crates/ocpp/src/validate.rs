//! Payload validation against the OCPP 1.6 message definitions.
//!
//! A payload is valid when it deserializes into the action's typed message
//! ([`crate::messages`]), which checks what the official OCPP 1.6 JSON schemas check.
//! Deserialization reads the `&Value` in place (no clone, no re-serialization) through a
//! deserializer of this module that is strict where `serde_json`'s is lenient (`null`
//! is not an absent optional field; an array is not an object) and records what failed
//! and where, so a failure maps to its OCPP-J error code:
//!
//! | failure | code |
//! |---|---|
//! | a required field is missing, an array with `minItems: 1` is empty | `OccurenceConstraintViolation` |
//! | a field has the wrong JSON type (including `null`) | `TypeConstraintViolation` |
//! | a value outside its enumeration, a string too long, an integer outside 32 bits, a bad dateTime or URI, a limit not a multiple of 0.1 | `PropertyConstraintViolation` |
//! | a field the schema does not define (every 1.6 schema sets `additionalProperties: false`) | `FormationViolation` |
//!
//! The description names the field by its path, e.g. `idTag: longer than 20 characters`,
//! `meterValue[0].sampledValue[1].measurand: …`, `missing field \`connectorId\``.

use crate::action::Action;
use crate::error_code::ErrorCode;
use crate::messages::{for_each_message, Request};
use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, Expected, MapAccess, SeqAccess, Unexpected, Visitor,
};
use serde::forward_to_deserialize_any;
use serde_json::{Map, Value};
use std::fmt;

/// Why a payload breaks the OCPP 1.6 schema of its action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub code: ErrorCode,
    pub description: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.description)
    }
}

impl std::error::Error for Violation {}

/// Checks the payload of a CALL of `action` against the action's request schema.
pub fn validate_request(action: Action, payload: &Value) -> Result<(), Violation> {
    macro_rules! dispatch {
        ($( $a:ident => $req:ident, $conf:ident; )*) => {
            match action { $( Action::$a => check::<crate::messages::$req>(payload), )* }
        };
    }
    for_each_message!(dispatch)
}

/// Checks the payload of a CALLRESULT answering a CALL of `action` against the action's
/// response schema.
pub fn validate_response(action: Action, payload: &Value) -> Result<(), Violation> {
    macro_rules! dispatch {
        ($( $a:ident => $req:ident, $conf:ident; )*) => {
            match action { $( Action::$a => check::<crate::messages::$conf>(payload), )* }
        };
    }
    for_each_message!(dispatch)
}

/// Reads a CALL payload into its typed request, or says which OCPP-J violation it is.
pub fn parse_request<T: Request>(payload: &Value) -> Result<T, Violation> {
    parse(payload)
}

/// Reads a CALLRESULT payload into its typed response (or any typed message), or says
/// which OCPP-J violation it is.
pub fn parse_response<T: DeserializeOwned>(payload: &Value) -> Result<T, Violation> {
    parse(payload)
}

fn check<T: DeserializeOwned>(payload: &Value) -> Result<(), Violation> {
    parse::<T>(payload).map(drop)
}

fn parse<T: DeserializeOwned>(payload: &Value) -> Result<T, Violation> {
    T::deserialize(ValueDe(payload)).map_err(DeError::into_violation)
}

// ---------------------------------------------------------------------------------------
// The error
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Missing,
    Type,
    Value,
    Unknown,
}

enum Seg {
    Key(String),
    Index(usize),
}

/// A deserialization failure with its kind and the path to the failing field (kept
/// innermost first while the error travels outwards).
struct DeError {
    kind: Kind,
    msg: String,
    path: Vec<Seg>,
}

impl DeError {
    fn new(kind: Kind, msg: String) -> Self {
        DeError { kind, msg, path: Vec::new() }
    }

    fn at(mut self, seg: Seg) -> Self {
        self.path.push(seg);
        self
    }

    fn path_string(&self) -> String {
        let mut s = String::new();
        for seg in self.path.iter().rev() {
            match seg {
                Seg::Key(k) => {
                    if !s.is_empty() {
                        s.push('.');
                    }
                    s.push_str(k);
                }
                Seg::Index(i) => {
                    s.push('[');
                    s.push_str(&i.to_string());
                    s.push(']');
                }
            }
        }
        s
    }

    fn into_violation(self) -> Violation {
        let code = match self.kind {
            Kind::Missing => ErrorCode::OccurenceConstraintViolation,
            Kind::Type => ErrorCode::TypeConstraintViolation,
            Kind::Value => ErrorCode::PropertyConstraintViolation,
            Kind::Unknown => ErrorCode::FormationViolation,
        };
        let path = self.path_string();
        let description = if path.is_empty() { self.msg } else { format!("{path}: {}", self.msg) };
        Violation { code, description }
    }
}

impl fmt::Debug for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} {}: {}", self.kind, self.path_string(), self.msg)
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.msg)
    }
}

impl std::error::Error for DeError {}

/// The JSON name of what serde's `Unexpected` describes.
fn json_kind(u: &Unexpected<'_>) -> &'static str {
    match u {
        Unexpected::Bool(_) => "a boolean",
        Unexpected::Unsigned(_) | Unexpected::Signed(_) => "an integer",
        Unexpected::Float(_) => "a fractional number",
        Unexpected::Char(_) | Unexpected::Str(_) => "a string",
        Unexpected::Unit | Unexpected::Option => "null",
        Unexpected::Seq => "an array",
        Unexpected::Map | Unexpected::StructVariant => "an object",
        _ => "a value of another type",
    }
}

/// What a serde `Expected` asks for, in JSON terms.
fn json_expected(exp: &dyn Expected) -> String {
    let e = exp.to_string();
    match e.as_str() {
        "i8" | "i16" | "i32" | "i64" | "u8" | "u16" | "u32" | "u64" => "an integer".into(),
        "f32" | "f64" => "a number".into(),
        "a sequence" => "an array".into(),
        _ if e.starts_with("struct ") || e == "a map" => "an object".into(),
        _ => e,
    }
}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError::new(Kind::Value, msg.to_string())
    }

    fn invalid_type(unexp: Unexpected<'_>, exp: &dyn Expected) -> Self {
        DeError::new(Kind::Type, format!("expected {}, found {}", json_expected(exp), json_kind(&unexp)))
    }

    fn invalid_value(unexp: Unexpected<'_>, exp: &dyn Expected) -> Self {
        let msg = match unexp {
            Unexpected::Unsigned(n) => format!("{n} is out of range for {}", json_expected(exp)),
            Unexpected::Signed(n) => format!("{n} is out of range for {}", json_expected(exp)),
            Unexpected::Str(s) => format!("{s:?} is not {}", json_expected(exp)),
            other => format!("invalid value {other}, expected {}", json_expected(exp)),
        };
        DeError::new(Kind::Value, msg)
    }

    fn invalid_length(len: usize, exp: &dyn Expected) -> Self {
        DeError::new(Kind::Missing, format!("{len} items, expected {exp}"))
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        DeError::new(Kind::Value, format!("{variant:?} is not one of {}", expected.join(", ")))
    }

    fn unknown_field(field: &str, _expected: &'static [&'static str]) -> Self {
        DeError::new(Kind::Unknown, format!("unknown field `{field}` (the schema allows no additional properties)"))
    }

    fn missing_field(field: &'static str) -> Self {
        DeError::new(Kind::Missing, format!("missing field `{field}`"))
    }

    fn duplicate_field(field: &'static str) -> Self {
        DeError::new(Kind::Missing, format!("duplicate field `{field}`"))
    }
}

// ---------------------------------------------------------------------------------------
// The deserializer over &Value
// ---------------------------------------------------------------------------------------

fn unexpected(v: &Value) -> Unexpected<'_> {
    match v {
        Value::Null => Unexpected::Unit,
        Value::Bool(b) => Unexpected::Bool(*b),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                Unexpected::Unsigned(u)
            } else if let Some(i) = n.as_i64() {
                Unexpected::Signed(i)
            } else {
                Unexpected::Float(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        Value::String(s) => Unexpected::Str(s),
        Value::Array(_) => Unexpected::Seq,
        Value::Object(_) => Unexpected::Map,
    }
}

struct ValueDe<'a>(&'a Value);

impl<'de> Deserializer<'de> for ValueDe<'de> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Number(n) => {
                if let Some(u) = n.as_u64() {
                    visitor.visit_u64(u)
                } else if let Some(i) = n.as_i64() {
                    visitor.visit_i64(i)
                } else {
                    visitor.visit_f64(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            Value::String(s) => visitor.visit_borrowed_str(s),
            Value::Array(a) => visit_array(a, visitor),
            Value::Object(m) => visit_object(m, visitor),
        }
    }

    /// A present field is never "absent": `null` must be of the field's type, which it
    /// never is in OCPP 1.6 (absent optional fields are handled by the struct visitor).
    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_some(self)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_map(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            Value::Object(m) => visit_object(m, visitor),
            other => Err(de::Error::invalid_type(unexpected(other), &visitor)),
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            Value::Array(a) => visit_array(a, visitor),
            other => Err(de::Error::invalid_type(unexpected(other), &visitor)),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _name: &'static str, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct tuple tuple_struct enum identifier
    }
}

fn visit_array<'de, V: Visitor<'de>>(a: &'de [Value], visitor: V) -> Result<V::Value, DeError> {
    let mut seq = SeqDe { iter: a.iter(), index: 0 };
    let value = visitor.visit_seq(&mut seq)?;
    if seq.iter.len() == 0 {
        Ok(value)
    } else {
        Err(de::Error::invalid_length(a.len(), &"fewer items"))
    }
}

fn visit_object<'de, V: Visitor<'de>>(m: &'de Map<String, Value>, visitor: V) -> Result<V::Value, DeError> {
    visitor.visit_map(MapDe { iter: m.iter(), value: None })
}

struct SeqDe<'a> {
    iter: std::slice::Iter<'a, Value>,
    index: usize,
}

impl<'de> SeqAccess<'de> for SeqDe<'de> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, DeError> {
        let Some(v) = self.iter.next() else {
            return Ok(None);
        };
        let i = self.index;
        self.index += 1;
        seed.deserialize(ValueDe(v)).map(Some).map_err(|e| e.at(Seg::Index(i)))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

struct MapDe<'a> {
    iter: serde_json::map::Iter<'a>,
    value: Option<(&'a str, &'a Value)>,
}

impl<'de> MapAccess<'de> for MapDe<'de> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, DeError> {
        let Some((k, v)) = self.iter.next() else {
            return Ok(None);
        };
        self.value = Some((k, v));
        seed.deserialize(KeyDe(k)).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let (k, v) = self.value.take().ok_or_else(|| de::Error::custom("value requested before key"))?;
        seed.deserialize(ValueDe(v)).map_err(|e| e.at(Seg::Key(k.to_string())))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

struct KeyDe<'a>(&'a str);

impl<'de> Deserializer<'de> for KeyDe<'de> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_borrowed_str(self.0)
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn req(action: Action, v: Value) -> Result<(), (ErrorCode, String)> {
        validate_request(action, &v).map_err(|e| (e.code, e.description))
    }

    #[test]
    fn maps_failures_to_codes_and_names_fields() {
        use ErrorCode::*;
        assert_eq!(req(Action::Authorize, json!({"idTag": "ABC"})), Ok(()));
        assert_eq!(
            req(Action::Authorize, json!({"idTag": "x".repeat(21)})),
            Err((PropertyConstraintViolation, "idTag: longer than 20 characters".into()))
        );
        assert_eq!(
            req(Action::UnlockConnector, json!({})),
            Err((OccurenceConstraintViolation, "missing field `connectorId`".into()))
        );
        assert_eq!(
            req(Action::UnlockConnector, json!({"connectorId": "1"})),
            Err((TypeConstraintViolation, "connectorId: expected an integer, found a string".into()))
        );
        assert_eq!(
            req(Action::UnlockConnector, json!({"connectorId": 1, "foo": 1})).unwrap_err().0,
            FormationViolation
        );
        assert_eq!(
            req(Action::UnlockConnector, json!({"connectorId": 3_000_000_000u64})),
            Err((PropertyConstraintViolation, "connectorId: 3000000000 is out of range for an integer".into()))
        );
        assert_eq!(req(Action::UnlockConnector, json!({"connectorId": null})).unwrap_err().0, TypeConstraintViolation);
        assert_eq!(req(Action::UnlockConnector, json!([1])).unwrap_err().0, TypeConstraintViolation);
        let e = req(
            Action::MeterValues,
            json!({"connectorId": 1, "meterValue": [{"timestamp": "2026-01-01T00:00:00Z",
                "sampledValue": [{"value": "1"}, {"value": "2", "measurand": "Energy"}]}]}),
        )
        .unwrap_err();
        assert_eq!(e.0, PropertyConstraintViolation);
        assert!(e.1.starts_with("meterValue[0].sampledValue[1].measurand: \"Energy\" is not one of"), "{}", e.1);
    }
}

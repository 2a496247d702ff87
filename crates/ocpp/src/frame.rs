//! OCPP-J framing: a frame is a JSON array.
//!
//! - CALL `[2, "<uniqueId>", "<Action>", {payload}]`
//! - CALLRESULT `[3, "<uniqueId>", {payload}]`
//! - CALLERROR `[4, "<uniqueId>", "<errorCode>", "<errorDescription>", {errorDetails}]`
//!
//! Decoding never panics. A frame that breaks the framing yields a [`FrameError`] that
//! carries the unique id when it could be found, and the CALLERROR code to answer with.

use crate::error_code::ErrorCode;
use serde_json::{Map, Value};
use std::fmt;

/// Longest unique id OCPP-J allows.
pub const MAX_UNIQUE_ID_LEN: usize = 36;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageType {
    Call,
    CallResult,
    CallError,
}

impl MessageType {
    pub fn type_id(self) -> u8 {
        match self {
            MessageType::Call => 2,
            MessageType::CallResult => 3,
            MessageType::CallError => 4,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            MessageType::Call => "CALL",
            MessageType::CallResult => "CALLRESULT",
            MessageType::CallError => "CALLERROR",
        }
    }

    pub fn parse(s: &str) -> Option<MessageType> {
        match s {
            "CALL" => Some(MessageType::Call),
            "CALLRESULT" => Some(MessageType::CallResult),
            "CALLERROR" => Some(MessageType::CallError),
            _ => None,
        }
    }
}

impl fmt::Display for MessageType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One decoded OCPP-J frame. The action of a CALL is kept as the string the peer sent;
/// whether it names a known action is the router's question, not the codec's.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    Call { unique_id: String, action: String, payload: Value },
    CallResult { unique_id: String, payload: Value },
    CallError { unique_id: String, error_code: String, description: String, details: Value },
}

/// A frame that breaks OCPP-J framing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameError {
    /// The unique id, when the frame got far enough to carry one.
    pub unique_id: Option<String>,
    /// The message type id, when it was readable.
    pub message_type: Option<MessageType>,
    /// The CALLERROR code to answer with.
    pub code: ErrorCode,
    pub description: String,
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.description)
    }
}

impl std::error::Error for FrameError {}

impl Frame {
    pub fn unique_id(&self) -> &str {
        match self {
            Frame::Call { unique_id, .. }
            | Frame::CallResult { unique_id, .. }
            | Frame::CallError { unique_id, .. } => unique_id,
        }
    }

    pub fn message_type(&self) -> MessageType {
        match self {
            Frame::Call { .. } => MessageType::Call,
            Frame::CallResult { .. } => MessageType::CallResult,
            Frame::CallError { .. } => MessageType::CallError,
        }
    }

    /// The payload of a CALL or CALLRESULT, the error details of a CALLERROR.
    pub fn payload(&self) -> &Value {
        match self {
            Frame::Call { payload, .. } | Frame::CallResult { payload, .. } => payload,
            Frame::CallError { details, .. } => details,
        }
    }

    /// A CALLERROR answering `unique_id`.
    pub fn call_error(unique_id: impl Into<String>, code: ErrorCode, description: impl Into<String>) -> Frame {
        Frame::CallError {
            unique_id: unique_id.into(),
            error_code: code.as_str().to_string(),
            description: description.into(),
            details: Value::Object(Map::new()),
        }
    }

    /// Decodes one frame from the text of a WebSocket message.
    pub fn decode(text: &str) -> Result<Frame, FrameError> {
        let value: Value = serde_json::from_str(text).map_err(|e| FrameError {
            unique_id: None,
            message_type: None,
            code: ErrorCode::FormationViolation,
            description: format!("frame is not valid JSON: {e}"),
        })?;
        Frame::from_value(value)
    }

    /// Decodes one frame from an already parsed JSON value.
    pub fn from_value(value: Value) -> Result<Frame, FrameError> {
        let Value::Array(items) = value else {
            return Err(err(None, None, ErrorCode::FormationViolation, "frame is not a JSON array"));
        };
        let mut items = items.into_iter();
        let type_id = items.next();
        let uid = items.next();
        let unique_id = match &uid {
            Some(Value::String(s)) if !s.is_empty() && s.len() <= MAX_UNIQUE_ID_LEN => Some(s.clone()),
            _ => None,
        };
        let message_type = match type_id.as_ref().and_then(Value::as_u64) {
            Some(2) => MessageType::Call,
            Some(3) => MessageType::CallResult,
            Some(4) => MessageType::CallError,
            Some(n) => {
                let d = format!("unknown message type id {n}");
                return Err(err(unique_id, None, ErrorCode::ProtocolError, &d));
            }
            None => {
                return Err(err(unique_id, None, ErrorCode::FormationViolation, "message type id is not a number"));
            }
        };
        let Some(unique_id) = unique_id else {
            let d = match uid {
                Some(Value::String(s)) if s.is_empty() => "unique id is empty".to_string(),
                Some(Value::String(s)) => {
                    format!("unique id is {} characters long, at most {MAX_UNIQUE_ID_LEN} allowed", s.len())
                }
                Some(_) => "unique id is not a string".to_string(),
                None => "frame has no unique id".to_string(),
            };
            return Err(err(None, Some(message_type), ErrorCode::FormationViolation, &d));
        };
        let rest: Vec<Value> = items.collect();
        decode_body(message_type, unique_id, rest)
    }

    /// Encodes the frame as the text of a WebSocket message.
    pub fn encode(&self) -> String {
        // Tuples serialize as JSON arrays: no intermediate `Value`, no copy of the payload.
        let text = match self {
            Frame::Call { unique_id, action, payload } => serde_json::to_string(&(2, unique_id, action, payload)),
            Frame::CallResult { unique_id, payload } => serde_json::to_string(&(3, unique_id, payload)),
            Frame::CallError { unique_id, error_code, description, details } => {
                serde_json::to_string(&(4, unique_id, error_code, description, details))
            }
        };
        text.expect("a frame of JSON values and strings always serializes")
    }
}

fn err(unique_id: Option<String>, mt: Option<MessageType>, code: ErrorCode, d: &str) -> FrameError {
    FrameError { unique_id, message_type: mt, code, description: d.to_string() }
}

fn decode_body(mt: MessageType, unique_id: String, rest: Vec<Value>) -> Result<Frame, FrameError> {
    let expected = match mt {
        MessageType::Call => 2,
        MessageType::CallResult => 1,
        MessageType::CallError => 3,
    };
    if rest.len() != expected {
        let d = format!("{mt} frame must have {} elements, found {}", expected + 2, rest.len() + 2);
        let code = if rest.len() < expected { ErrorCode::ProtocolError } else { ErrorCode::FormationViolation };
        return Err(err(Some(unique_id), Some(mt), code, &d));
    }
    let mut rest = rest.into_iter();
    let fail = |d: &str| err(Some(unique_id.clone()), Some(mt), ErrorCode::FormationViolation, d);
    match mt {
        MessageType::Call => {
            let Some(Value::String(action)) = rest.next() else {
                return Err(fail("action is not a string"));
            };
            let payload = rest.next().unwrap_or(Value::Null);
            if !payload.is_object() {
                return Err(fail("payload is not a JSON object"));
            }
            Ok(Frame::Call { unique_id, action, payload })
        }
        MessageType::CallResult => {
            let payload = rest.next().unwrap_or(Value::Null);
            if !payload.is_object() {
                return Err(fail("payload is not a JSON object"));
            }
            Ok(Frame::CallResult { unique_id, payload })
        }
        MessageType::CallError => {
            let (Some(Value::String(code)), Some(Value::String(description)), Some(details)) =
                (rest.next(), rest.next(), rest.next())
            else {
                return Err(fail("CALLERROR must be [4, id, errorCode, errorDescription, errorDetails]"));
            };
            if !details.is_object() {
                return Err(fail("errorDetails is not a JSON object"));
            }
            Ok(Frame::CallError { unique_id, error_code: code, description, details })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn decodes_and_encodes_each_type() {
        let call = Frame::decode(r#"[2,"a1","Heartbeat",{}]"#).unwrap();
        assert_eq!(call, Frame::Call { unique_id: "a1".into(), action: "Heartbeat".into(), payload: json!({}) });
        assert_eq!(Frame::decode(&call.encode()).unwrap(), call);
        let res = Frame::decode(r#"[3,"a1",{"currentTime":"2026-01-01T00:00:00Z"}]"#).unwrap();
        assert_eq!(res.message_type(), MessageType::CallResult);
        assert_eq!(Frame::decode(&res.encode()).unwrap(), res);
        let e = Frame::decode(r#"[4,"a1","NotImplemented","no",{}]"#).unwrap();
        assert_eq!(e.message_type(), MessageType::CallError);
        assert_eq!(Frame::decode(&e.encode()).unwrap(), e);
    }

    #[test]
    fn large_numbers_survive_a_round_trip() {
        // Found by fuzzing: without correctly rounded float parsing this changed the number.
        let f = Frame::decode(r#"[3,"5",{"interval":30188888884444444444444}]"#).unwrap();
        assert_eq!(Frame::decode(&f.encode()).unwrap(), f);
    }

    #[test]
    fn bad_frames_get_the_right_code_and_keep_the_id() {
        let cases: &[(&str, ErrorCode, Option<&str>)] = &[
            ("not json", ErrorCode::FormationViolation, None),
            ("{}", ErrorCode::FormationViolation, None),
            (r#"[9,"x",{}]"#, ErrorCode::ProtocolError, Some("x")),
            (r#"["2","x","Heartbeat",{}]"#, ErrorCode::FormationViolation, Some("x")),
            (r#"[2,5,"Heartbeat",{}]"#, ErrorCode::FormationViolation, None),
            (r#"[2,"x","Heartbeat"]"#, ErrorCode::ProtocolError, Some("x")),
            (r#"[2,"x",7,{}]"#, ErrorCode::FormationViolation, Some("x")),
            (r#"[2,"x","Heartbeat",[]]"#, ErrorCode::FormationViolation, Some("x")),
            (r#"[2,"x","Heartbeat",{},1]"#, ErrorCode::FormationViolation, Some("x")),
            (r#"[3,"x",5]"#, ErrorCode::FormationViolation, Some("x")),
            (r#"[4,"x","A"]"#, ErrorCode::ProtocolError, Some("x")),
            (r#"[2,"0123456789012345678901234567890123456","Heartbeat",{}]"#, ErrorCode::FormationViolation, None),
        ];
        for (text, code, id) in cases {
            let e = Frame::decode(text).unwrap_err();
            assert_eq!(e.code, *code, "{text}: {e}");
            assert_eq!(e.unique_id.as_deref(), *id, "{text}");
        }
    }
}

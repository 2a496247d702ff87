//! OCPP 1.6-J protocol layer. **No I/O**: every function here is pure.
//!
//! - [`frame`]: OCPP-J framing (CALL / CALLRESULT / CALLERROR), decoding with the
//!   error code OCPP-J prescribes.
//! - [`action`]: the 28 actions of the six OCPP 1.6 feature profiles.
//! - [`messages`]: typed requests and responses for every action.
//! - [`validate`]: payload validation yielding OCPP-J error codes.
//! - [`extract`]: where each message keeps its connector, status and error code.
//! - [`fast`]: MeterValues CALLs decoded straight into the typed request (a path that
//!   only accepts; everything else goes through [`frame`] and [`validate`]).

pub mod action;
pub mod error_code;
pub mod extract;
pub mod fast;
pub mod frame;
pub mod messages;
pub mod types;
pub mod validate;

pub use action::{Action, Initiator, Profile};
pub use error_code::ErrorCode;
pub use frame::{Frame, FrameError, MessageType};
pub use validate::{validate_request, validate_response, Violation};

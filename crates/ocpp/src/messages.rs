//! Typed requests and responses.

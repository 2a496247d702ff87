//! Shared field types (CiString, dateTime, decimal).

//! The log-filter query parser (`GET /api/v1/logs?...`) never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = chargewatch::api::parse_log_query(text);
});

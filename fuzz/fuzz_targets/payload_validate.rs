//! Payload validation never panics on any JSON, for every action, as a request and as a
//! response. The first byte picks the action; the rest is the payload.
#![no_main]
use chargewatch_ocpp::{validate_request, validate_response, Action};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else { return };
    let Ok(payload) = serde_json::from_slice::<serde_json::Value>(rest) else { return };
    let action = Action::ALL[pick as usize % Action::ALL.len()];
    if let Err(v) = validate_request(action, &payload) {
        let _ = v.to_string();
    }
    if let Err(v) = validate_response(action, &payload) {
        let _ = v.to_string();
    }
});

//! The DER reader that maps a client certificate to a chargeBoxId (security profile 3)
//! never panics and never reads out of bounds.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = chargewatch::security::der::subject_common_name(data);
});

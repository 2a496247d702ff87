//! The OCPP-J frame decoder never panics, and whatever it accepts re-encodes to a frame it
//! accepts again, unchanged.
#![no_main]
use chargewatch_ocpp::Frame;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match Frame::decode(text) {
        Ok(frame) => {
            let again = Frame::decode(&frame.encode()).expect("an encoded frame decodes");
            assert_eq!(again, frame, "decode(encode(frame)) == frame");
            let _ = (frame.unique_id(), frame.message_type());
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});

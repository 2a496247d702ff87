//! The OCPP-J frame decoder never panics, and whatever it accepts re-encodes to a frame it
//! accepts again, unchanged. The MeterValues fast path never disagrees with it: whatever the
//! fast path accepts, the decoder and the validator accept with the same typed request.
#![no_main]
use chargewatch_ocpp::fast::meter_values_call;
use chargewatch_ocpp::messages::MeterValuesReq;
use chargewatch_ocpp::validate::parse_request;
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
    if let Some(fast) = meter_values_call(text) {
        let Ok(Frame::Call { unique_id, action, payload }) = Frame::decode(text) else {
            panic!("the fast path accepted a frame the decoder refuses: {text}");
        };
        assert_eq!((unique_id.as_str(), action.as_str()), (fast.unique_id.as_str(), "MeterValues"));
        let usual: MeterValuesReq = parse_request(&payload).expect("the validator accepts what the fast path accepts");
        assert_eq!(usual, fast.request, "the same typed request either way");
    }
});

//! Just enough DER to read the subject common name of an X.509 certificate (RFC 5280).
//! Bounded and panic-free on any input (see the `cert_subject_cn` fuzz target); used only
//! on certificates that rustls has already parsed and, for CN mapping, that chain to the
//! client CA.

/// One TLV: its tag, its content, and what follows it.
fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n].iter().fold(0usize, |acc, b| (acc << 8) | *b as usize);
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

fn expect(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (t, content, rest) = tlv(input)?;
    (t == tag).then_some((content, rest))
}

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const OID: u8 = 0x06;
/// id-at-commonName, 2.5.4.3
const CN_OID: &[u8] = &[0x55, 0x04, 0x03];

/// The first subject common name of a DER certificate, if it has one.
pub fn subject_common_name(cert: &[u8]) -> Option<String> {
    let (cert, _) = expect(cert, SEQUENCE)?;
    let (mut tbs, _) = expect(cert, SEQUENCE)?;
    // version [0] EXPLICIT, optional
    if tbs.first() == Some(&0xa0) {
        tbs = tlv(tbs)?.2;
    }
    let (_serial, rest) = expect(tbs, 0x02)?;
    let (_signature, rest) = expect(rest, SEQUENCE)?;
    let (_issuer, rest) = expect(rest, SEQUENCE)?;
    let (_validity, rest) = expect(rest, SEQUENCE)?;
    let (mut subject, _) = expect(rest, SEQUENCE)?;
    while !subject.is_empty() {
        let (mut rdn, rest) = expect(subject, SET)?;
        subject = rest;
        while !rdn.is_empty() {
            let (atv, rest) = expect(rdn, SEQUENCE)?;
            rdn = rest;
            let (oid, value) = expect(atv, OID)?;
            if oid != CN_OID {
                continue;
            }
            let (tag, text, _) = tlv(value)?;
            return match tag {
                // UTF8String, PrintableString, IA5String, TeletexString (read as Latin-1)
                0x0c | 0x13 | 0x16 => std::str::from_utf8(text).ok().map(str::to_string),
                0x14 => Some(text.iter().map(|&b| b as char).collect()),
                // BMPString
                0x1e if text.len() % 2 == 0 => {
                    let units: Vec<u16> = text.chunks(2).map(|c| u16::from_be_bytes([c[0], c[1]])).collect();
                    String::from_utf16(&units).ok()
                }
                _ => None,
            };
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_none_not_a_panic() {
        for input in
            [&[][..], &[0x30], &[0x30, 0x85, 1, 2, 3, 4, 5], &[0x30, 0x84, 0xff, 0xff, 0xff, 0xff], &[0x30, 0x00]]
        {
            assert_eq!(subject_common_name(input), None);
        }
    }
}

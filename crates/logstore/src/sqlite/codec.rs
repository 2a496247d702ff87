//! How a record's bulky fields are stored compactly in a row.
//!
//! - The record id (a UUID) is stored in 10 bytes when it is a UUIDv7 whose time part is
//!   the record's millisecond timestamp (the normal case: see `new_record_id`), else in 16.
//! - The body holds `unique_id`, `validation_error` and `raw`, compressed together with zstd
//!   and the partition's dictionary (the unique id usually reappears in the raw frame, where
//!   zstd turns it into a short back-reference).
//!
//! Body layout: `[format: u8][varint plain_len][payload]`, format 0 = payload is the plain
//! bytes, 1 = payload is a magic-less zstd frame without checksum or dictionary id.
//! Bodies shorter than [`MIN_COMPRESSED`] are stored plain without trying zstd: a
//! `[3,"17",{}]` answer saves a byte or two at most, and compressing it costs as much as
//! a whole MeterValues frame (zstd builds its predefined entropy tables for every tiny input).
//! Plain layout: `[flags: u8]([varint len][unique_id])?([varint len][validation_error])?[raw]`.

use crate::record::RecordId;
use std::io;
use zstd::bulk::{Compressor, Decompressor};
use zstd::zstd_safe::{CParameter, DParameter, FrameFormat};

const FORMAT_PLAIN: u8 = 0;
const FORMAT_ZSTD: u8 = 1;
const HAS_UNIQUE_ID: u8 = 1;
const HAS_VALIDATION_ERROR: u8 = 2;
/// The shortest plain body worth compressing. Measured on the frames of `chargewatch
/// simulate` (unique ids of 2–4 characters): bodies of 16–31 bytes came out 6 % smaller
/// (19.3 → 18.1 bytes), at 14,000 instructions each; bodies of 48–63 bytes 33 % smaller.
pub(crate) const MIN_COMPRESSED: usize = 32;

/// Stores the id compactly: drops the 6 timestamp bytes of a UUIDv7 that match `ts_ms`.
pub(crate) fn encode_uid(id: &RecordId, ts_ms: i64) -> Vec<u8> {
    let b = id.as_bytes();
    if ts_ms >= 0 && b[..6] == ts_ms.to_be_bytes()[2..] {
        b[6..].to_vec()
    } else {
        b.to_vec()
    }
}

pub(crate) fn decode_uid(stored: &[u8], ts_ms: i64) -> Option<RecordId> {
    let mut b = [0u8; 16];
    match stored.len() {
        16 => b.copy_from_slice(stored),
        10 => {
            b[..6].copy_from_slice(&ts_ms.to_be_bytes()[2..]);
            b[6..].copy_from_slice(stored);
        }
        _ => return None,
    }
    Some(RecordId::from_bytes(b))
}

/// The fields kept in the compressed body.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Body {
    pub unique_id: Option<String>,
    pub validation_error: Option<String>,
    pub raw: String,
}

/// LEB128: 7 bits a byte, low bits first (also the station postings' keys, `postings.rs`).
pub(super) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

pub(super) fn get_varint(buf: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *buf.get(*pos)?;
        *pos += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

fn get_str<'a>(buf: &'a [u8], pos: &mut usize) -> Option<&'a str> {
    let len = get_varint(buf, pos)? as usize;
    let s = buf.get(*pos..pos.checked_add(len)?)?;
    *pos += len;
    std::str::from_utf8(s).ok()
}

/// Compresses bodies with one partition's dictionary (one per writer connection).
pub(crate) struct BodyEncoder {
    comp: Compressor<'static>,
    plain: Vec<u8>,
}

impl BodyEncoder {
    pub fn new(dictionary: &[u8], level: i32) -> io::Result<Self> {
        let mut comp = Compressor::with_dictionary(level, dictionary)?;
        comp.set_parameter(CParameter::Format(FrameFormat::Magicless))?;
        comp.set_parameter(CParameter::ChecksumFlag(false))?;
        comp.set_parameter(CParameter::DictIdFlag(false))?;
        comp.set_parameter(CParameter::ContentSizeFlag(false))?;
        Ok(BodyEncoder { comp, plain: Vec::with_capacity(1024) })
    }

    pub fn encode(
        &mut self,
        unique_id: Option<&str>,
        validation_error: Option<&str>,
        raw: &str,
    ) -> io::Result<Vec<u8>> {
        let plain = &mut self.plain;
        plain.clear();
        let flags = if unique_id.is_some() { HAS_UNIQUE_ID } else { 0 }
            | if validation_error.is_some() { HAS_VALIDATION_ERROR } else { 0 };
        plain.push(flags);
        for s in [unique_id, validation_error].into_iter().flatten() {
            put_varint(plain, s.len() as u64);
            plain.extend_from_slice(s.as_bytes());
        }
        plain.extend_from_slice(raw.as_bytes());
        if plain.len() < MIN_COMPRESSED {
            return Ok(plain_body(plain));
        }

        let mut out = Vec::with_capacity(plain.len() / 2 + 16);
        out.push(FORMAT_ZSTD);
        put_varint(&mut out, plain.len() as u64);
        let header = out.len();
        out.resize(header + zstd::zstd_safe::compress_bound(plain.len()), 0);
        let n = self.comp.compress_to_buffer(&plain[..], &mut out[header..])?;
        out.truncate(header + n);
        if out.len() >= plain.len() + header {
            return Ok(plain_body(plain));
        }
        Ok(out)
    }
}

fn plain_body(plain: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(plain.len() + 2);
    out.push(FORMAT_PLAIN);
    put_varint(&mut out, plain.len() as u64);
    out.extend_from_slice(plain);
    out
}

/// Decompresses bodies with one partition's dictionary (one per reader connection).
pub(crate) struct BodyDecoder {
    dec: Decompressor<'static>,
    plain: Vec<u8>,
}

impl BodyDecoder {
    pub fn new(dictionary: &[u8]) -> io::Result<Self> {
        let mut dec = Decompressor::with_dictionary(dictionary)?;
        dec.set_parameter(DParameter::Format(FrameFormat::Magicless))?;
        Ok(BodyDecoder { dec, plain: Vec::with_capacity(1024) })
    }

    /// The plain bytes of a stored body (valid until the next call).
    pub fn plain(&mut self, stored: &[u8]) -> io::Result<&[u8]> {
        let bad = || io::Error::new(io::ErrorKind::InvalidData, "malformed log record body");
        let mut pos = 1;
        let format = *stored.first().ok_or_else(bad)?;
        let len = get_varint(stored, &mut pos).ok_or_else(bad)? as usize;
        let payload = &stored[pos..];
        match format {
            FORMAT_PLAIN => {
                self.plain.clear();
                self.plain.extend_from_slice(payload);
            }
            FORMAT_ZSTD => {
                self.plain.clear();
                self.plain.reserve(len);
                let n = self.dec.decompress_to_buffer(payload, &mut self.plain)?;
                if n != len {
                    return Err(bad());
                }
            }
            _ => return Err(bad()),
        }
        Ok(&self.plain)
    }

    /// The raw text of a stored body without the other fields (for `q` search).
    pub fn raw<'a>(&'a mut self, stored: &[u8]) -> io::Result<&'a [u8]> {
        let plain = self.plain(stored)?;
        let (_, _, raw_at) = split_plain(plain)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "malformed log record body"))?;
        Ok(&plain[raw_at..])
    }

    pub fn decode(&mut self, stored: &[u8]) -> io::Result<Body> {
        let bad = || io::Error::new(io::ErrorKind::InvalidData, "malformed log record body");
        let plain = self.plain(stored)?;
        let (unique_id, validation_error, raw_at) = split_plain(plain).ok_or_else(bad)?;
        Ok(Body {
            unique_id: unique_id.map(str::to_owned),
            validation_error: validation_error.map(str::to_owned),
            raw: std::str::from_utf8(&plain[raw_at..]).map_err(|_| bad())?.to_owned(),
        })
    }
}

type Split<'a> = (Option<&'a str>, Option<&'a str>, usize);

fn split_plain(plain: &[u8]) -> Option<Split<'_>> {
    let flags = *plain.first()?;
    let mut pos = 1;
    let unique_id = if flags & HAS_UNIQUE_ID != 0 { Some(get_str(plain, &mut pos)?) } else { None };
    let validation_error = if flags & HAS_VALIDATION_ERROR != 0 { Some(get_str(plain, &mut pos)?) } else { None };
    Some((unique_id, validation_error, pos))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::new_record_id;

    #[test]
    fn uid_round_trips_compact_and_full() {
        let ts = chrono::DateTime::from_timestamp_millis(1_795_000_000_123).unwrap();
        let v7 = new_record_id(ts);
        let stored = encode_uid(&v7, ts.timestamp_millis());
        assert_eq!(stored.len(), 10);
        assert_eq!(decode_uid(&stored, ts.timestamp_millis()), Some(v7));
        let other = RecordId::from_u128(0x1234_5678_9abc_def0_1234_5678_9abc_def0);
        let stored = encode_uid(&other, ts.timestamp_millis());
        assert_eq!(stored.len(), 16);
        assert_eq!(decode_uid(&stored, ts.timestamp_millis()), Some(other));
    }

    /// Both dictionaries files hold: version 1 (raw content) and version 2 (finalized).
    #[test]
    fn body_round_trips() {
        for dict in [super::super::zdict::BUILTIN_V1.as_bytes(), super::super::zdict::builtin()] {
            body_round_trips_with(dict);
        }
    }

    fn body_round_trips_with(dict: &[u8]) {
        let mut enc = BodyEncoder::new(dict, 3).unwrap();
        let mut dec = BodyDecoder::new(dict).unwrap();
        let raw = r#"[2,"abc-1","MeterValues",{"connectorId":1,"transactionId":77,"meterValue":[{"timestamp":"2026-11-23T10:15:02.000Z","sampledValue":[{"value":"123.4","context":"Sample.Periodic","measurand":"Energy.Active.Import.Register","unit":"Wh"}]}]}]"#;
        for (uid, verr, raw) in
            [(Some("abc-1"), None, raw), (None, Some("bad"), "x"), (None, None, ""), (Some(""), Some("é"), "ünïcode")]
        {
            let stored = enc.encode(uid, verr, raw).unwrap();
            let body = dec.decode(&stored).unwrap();
            assert_eq!(body.unique_id.as_deref(), uid);
            assert_eq!(body.validation_error.as_deref(), verr);
            assert_eq!(body.raw, raw);
            assert_eq!(dec.raw(&stored).unwrap(), raw.as_bytes());
        }
        let stored = enc.encode(Some("abc-1"), None, raw).unwrap();
        assert!(stored.len() < raw.len() / 2, "{} bytes", stored.len());
        assert_eq!(stored[0], FORMAT_ZSTD);
    }

    /// A short answer is stored as it is, without a zstd attempt; a longer one is compressed.
    #[test]
    fn short_bodies_are_stored_plain() {
        let dict = super::super::zdict::builtin();
        let mut enc = BodyEncoder::new(dict, 3).unwrap();
        let mut dec = BodyDecoder::new(dict).unwrap();
        let short = r#"[3,"17",{}]"#;
        let stored = enc.encode(Some("17"), None, short).unwrap();
        let plain_len = 1 + 1 + 2 + short.len();
        assert_eq!((stored[0], stored[1] as usize, stored.len()), (FORMAT_PLAIN, plain_len, plain_len + 2));
        assert_eq!(dec.decode(&stored).unwrap().raw, short);
        let long = r#"[3,"17",{"currentTime":"2026-12-02T10:15:02.000Z"}]"#;
        let stored = enc.encode(Some("17"), None, long).unwrap();
        assert!(1 + 1 + 2 + long.len() >= MIN_COMPRESSED);
        assert_eq!(stored[0], FORMAT_ZSTD, "{} bytes", stored.len());
        assert_eq!(dec.decode(&stored).unwrap().raw, long);
    }
}

//! The compact form of a meter value's sampled values, as a `meter_values` row keeps them
//! since 2026-12-06 (a BLOB in `sampled_value`; rows written before keep JSON text, and
//! [`sampled_values_from_cell`] reads both).
//!
//! As JSON, the four sampled values of a typical MeterValues are ~460 bytes, most of them
//! key names and enumeration spellings: ~45 rows a group commit filled five 4 KiB pages of
//! the state store's WAL, each also written again at a checkpoint. Compact they are ~65
//! bytes. Layout: a format byte ([`FORMAT`]), then per sampled value six bytes (context,
//! format, measurand, phase, location, unit: 0 when absent, else 1 + the spelling's index in
//! the enumeration's `VALUES`, which is the OCPP 1.6 schema's order; the test
//! `enumeration_orders_are_pinned` keeps it), the value's length (u32, little endian) and
//! its UTF-8 bytes.

use chargewatch_ocpp::messages::SampledValue;
use chargewatch_ocpp::types::{Location, Measurand, Phase, ReadingContext, UnitOfMeasure, ValueFormat};
use rusqlite::types::ValueRef;

/// The first byte of a compact cell.
const FORMAT: u8 = 1;

/// `values` in the compact form.
pub fn encode(values: &[SampledValue]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + values.iter().map(|v| 10 + v.value.len()).sum::<usize>());
    out.push(FORMAT);
    for v in values {
        out.extend_from_slice(&[
            code(v.context.map(|e| e as usize)),
            code(v.format.map(|e| e as usize)),
            code(v.measurand.map(|e| e as usize)),
            code(v.phase.map(|e| e as usize)),
            code(v.location.map(|e| e as usize)),
            code(v.unit.map(|e| e as usize)),
        ]);
        out.extend_from_slice(&(v.value.len() as u32).to_le_bytes());
        out.extend_from_slice(v.value.as_bytes());
    }
    out
}

/// 0 for none, 1 + the variant's index (its declaration order, which is `ALL`'s and `VALUES`').
fn code(index: Option<usize>) -> u8 {
    index.map_or(0, |i| u8::try_from(i + 1).expect("an OCPP 1.6 enumeration has fewer than 255 values"))
}

/// The sampled values of a compact cell; none when it is not one.
pub fn decode(cell: &[u8]) -> Option<Vec<SampledValue>> {
    let (&format, mut rest) = cell.split_first()?;
    if format != FORMAT {
        return None;
    }
    let mut out = Vec::new();
    while !rest.is_empty() {
        let (codes, tail) = rest.split_at_checked(6)?;
        let (len, tail) = tail.split_at_checked(4)?;
        let len = u32::from_le_bytes(len.try_into().ok()?) as usize;
        let (value, tail) = tail.split_at_checked(len)?;
        out.push(SampledValue {
            value: std::str::from_utf8(value).ok()?.to_string(),
            context: pick(ReadingContext::ALL, codes[0])?,
            format: pick(ValueFormat::ALL, codes[1])?,
            measurand: pick(Measurand::ALL, codes[2])?,
            phase: pick(Phase::ALL, codes[3])?,
            location: pick(Location::ALL, codes[4])?,
            unit: pick(UnitOfMeasure::ALL, codes[5])?,
        });
        rest = tail;
    }
    Some(out)
}

/// Outer none: a code past the enumeration's end (not a cell this module wrote).
fn pick<E: Copy>(all: &[E], code: u8) -> Option<Option<E>> {
    match code {
        0 => Some(None),
        c => all.get(usize::from(c) - 1).map(|e| Some(*e)),
    }
}

/// A row's `sampled_value` as JSON: JSON text as it was kept before the compact form, or a
/// compact cell; `null` for anything else.
pub fn sampled_values_from_cell(cell: ValueRef<'_>) -> serde_json::Value {
    match cell {
        ValueRef::Text(t) => serde_json::from_slice(t).unwrap_or_default(),
        ValueRef::Blob(b) => decode(b).and_then(|v| serde_json::to_value(v).ok()).unwrap_or_default(),
        _ => serde_json::Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sampled(value: &str) -> SampledValue {
        SampledValue {
            value: value.into(),
            context: None,
            format: None,
            measurand: None,
            phase: None,
            location: None,
            unit: None,
        }
    }

    #[test]
    fn every_enumeration_value_and_any_text_round_trip() {
        let mut values = vec![sampled(""), sampled("quote \" backslash \\ nul \0 ünïcode ⚡")];
        let most = [ReadingContext::ALL.len(), Measurand::ALL.len(), Phase::ALL.len(), UnitOfMeasure::ALL.len()];
        for n in 0..*most.iter().max().unwrap() {
            values.push(SampledValue {
                value: format!("{n}.5"),
                context: ReadingContext::ALL.get(n).copied(),
                format: ValueFormat::ALL.get(n).copied(),
                measurand: Measurand::ALL.get(n).copied(),
                phase: Phase::ALL.get(n).copied(),
                location: Location::ALL.get(n).copied(),
                unit: UnitOfMeasure::ALL.get(n).copied(),
            });
        }
        let cell = encode(&values);
        assert_eq!(decode(&cell).unwrap(), values);
        assert_eq!(decode(&encode(&[])).unwrap(), vec![]);
    }

    #[test]
    fn a_typical_meter_value_is_a_seventh_of_its_json() {
        let typical: Vec<SampledValue> = serde_json::from_value(json!([
            {"value": "123456", "context": "Sample.Periodic", "measurand": "Energy.Active.Import.Register", "location": "Outlet", "unit": "Wh"},
            {"value": "7230.5", "context": "Sample.Periodic", "measurand": "Power.Active.Import", "location": "Outlet", "unit": "W"},
            {"value": "10.43", "context": "Sample.Periodic", "measurand": "Current.Import", "location": "Outlet", "unit": "A"},
            {"value": "231.2", "context": "Sample.Periodic", "measurand": "Voltage", "location": "Outlet", "unit": "V"},
        ]))
        .unwrap();
        let json = serde_json::to_string(&typical).unwrap();
        let cell = encode(&typical);
        assert!(cell.len() * 7 <= json.len(), "{} bytes against {} as JSON", cell.len(), json.len());
        assert_eq!(
            sampled_values_from_cell(ValueRef::Blob(&cell)),
            serde_json::from_str::<serde_json::Value>(&json).unwrap()
        );
    }

    #[test]
    fn rows_written_as_json_text_read_as_before_and_foreign_cells_as_null() {
        let text = r#"[{"unit":"Wh","value":"5"}]"#;
        assert_eq!(sampled_values_from_cell(ValueRef::Text(text.as_bytes())), json!([{"value": "5", "unit": "Wh"}]));
        for foreign in [
            &b""[..],
            &[2, 0][..],
            &[FORMAT, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, b'x'][..],
            &[FORMAT, 99, 0, 0, 0, 0, 0, 0, 0, 0, 0][..],
        ] {
            assert_eq!(sampled_values_from_cell(ValueRef::Blob(foreign)), serde_json::Value::Null, "{foreign:?}");
        }
    }

    /// The compact form keeps each enumeration value as its index: these orders are on disk.
    #[test]
    fn enumeration_orders_are_pinned() {
        let pinned: [(&[&str], &[&str]); 6] = [
            (
                ReadingContext::VALUES,
                &[
                    "Interruption.Begin",
                    "Interruption.End",
                    "Sample.Clock",
                    "Sample.Periodic",
                    "Transaction.Begin",
                    "Transaction.End",
                    "Trigger",
                    "Other",
                ],
            ),
            (ValueFormat::VALUES, &["Raw", "SignedData"]),
            (
                Measurand::VALUES,
                &[
                    "Energy.Active.Export.Register",
                    "Energy.Active.Import.Register",
                    "Energy.Reactive.Export.Register",
                    "Energy.Reactive.Import.Register",
                    "Energy.Active.Export.Interval",
                    "Energy.Active.Import.Interval",
                    "Energy.Reactive.Export.Interval",
                    "Energy.Reactive.Import.Interval",
                    "Power.Active.Export",
                    "Power.Active.Import",
                    "Power.Offered",
                    "Power.Reactive.Export",
                    "Power.Reactive.Import",
                    "Power.Factor",
                    "Current.Import",
                    "Current.Export",
                    "Current.Offered",
                    "Voltage",
                    "Frequency",
                    "Temperature",
                    "SoC",
                    "RPM",
                ],
            ),
            (Phase::VALUES, &["L1", "L2", "L3", "N", "L1-N", "L2-N", "L3-N", "L1-L2", "L2-L3", "L3-L1"]),
            (Location::VALUES, &["Cable", "EV", "Inlet", "Outlet", "Body"]),
            (
                UnitOfMeasure::VALUES,
                &[
                    "Wh",
                    "kWh",
                    "varh",
                    "kvarh",
                    "W",
                    "kW",
                    "VA",
                    "kVA",
                    "var",
                    "kvar",
                    "A",
                    "V",
                    "K",
                    "Celcius",
                    "Celsius",
                    "Fahrenheit",
                    "Percent",
                    "Hertz",
                ],
            ),
        ];
        for (now, on_disk) in pinned {
            assert_eq!(now, on_disk);
        }
    }
}

//! Reading the dynamic values subxt decodes: fields by name, numbers, byte arrays and the
//! `Data::RawN` variants commitments are stored in. Every miss is a [`SubtensorError::Shape`]
//! naming what was looked for, so a runtime that changed a type says so instead of panicking.

use subxt::dynamic::Value;
use subxt::ext::scale_value::{Composite, Primitive, ValueDef};

use crate::error::SubtensorError;

/// The most bytes one `Data::RawN` field holds.
pub const MAX_RAW: usize = 128;

pub fn field<'a>(value: &'a Value, name: &str) -> Result<&'a Value, SubtensorError> {
    let fields = match &value.value {
        ValueDef::Composite(Composite::Named(fields)) => fields,
        ValueDef::Variant(v) => match &v.values {
            Composite::Named(fields) => fields,
            _ => return Err(SubtensorError::shape(name, "fields without names")),
        },
        _ => return Err(SubtensorError::shape(name, "not a struct")),
    };
    fields
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
        .ok_or_else(|| SubtensorError::shape(name, "no such field"))
}

/// Items of a sequence or tuple, looking through wrappers such as `BoundedVec(Vec<T>)`, which
/// decode as a one-item composite holding the sequence.
pub fn items(value: &Value) -> Result<Vec<&Value>, SubtensorError> {
    match &value.value {
        ValueDef::Composite(c) => {
            let all: Vec<&Value> = c.values().collect();
            match all.as_slice() {
                [only] if matches!(only.value, ValueDef::Composite(_)) && is_sequence(only) => {
                    items(only)
                }
                _ => Ok(all),
            }
        }
        _ => Err(SubtensorError::shape("sequence", "not a sequence")),
    }
}

/// A composite whose items are not named fields: a sequence, tuple or newtype.
fn is_sequence(value: &Value) -> bool {
    matches!(value.value, ValueDef::Composite(Composite::Unnamed(_)))
}

pub fn number(value: &Value) -> Result<u128, SubtensorError> {
    match &value.value {
        ValueDef::Primitive(Primitive::U128(n)) => Ok(*n),
        ValueDef::Primitive(Primitive::Bool(b)) => Ok(*b as u128),
        // Newtypes and compact wrappers decode as one-field composites.
        ValueDef::Composite(c) if c.len() == 1 => number(c.values().next().expect("one")),
        _ => Err(SubtensorError::shape("number", format!("{value}"))),
    }
}

pub fn boolean(value: &Value) -> Result<bool, SubtensorError> {
    match &value.value {
        ValueDef::Primitive(Primitive::Bool(b)) => Ok(*b),
        _ => Err(SubtensorError::shape("bool", format!("{value}"))),
    }
}

/// A byte string or array, also inside one-field wrappers such as `AccountId32([u8; 32])`.
pub fn bytes(value: &Value) -> Result<Vec<u8>, SubtensorError> {
    match &value.value {
        ValueDef::Composite(c) if c.len() == 1 => {
            let inner = c.values().next().expect("one");
            if matches!(inner.value, ValueDef::Composite(_)) {
                return bytes(inner);
            }
            Ok(vec![byte(inner)?])
        }
        ValueDef::Composite(c) => c.values().map(byte).collect(),
        _ => Err(SubtensorError::shape("bytes", format!("{value}"))),
    }
}

fn byte(value: &Value) -> Result<u8, SubtensorError> {
    let n = number(value)?;
    u8::try_from(n).map_err(|_| SubtensorError::shape("bytes", format!("{n} is not a byte")))
}

pub fn account(value: &Value) -> Result<[u8; 32], SubtensorError> {
    let raw = bytes(value)?;
    raw.try_into()
        .map_err(|r: Vec<u8>| SubtensorError::shape("account id", format!("{} bytes", r.len())))
}

/// `Data::Raw{len}` holding `data`, as `Commitments.set_commitment` takes it.
pub fn raw_data(data: &[u8]) -> Result<Value<()>, SubtensorError> {
    if data.len() > MAX_RAW {
        return Err(SubtensorError::Invalid(format!(
            "a commitment holds at most {MAX_RAW} bytes in one field; this one has {}",
            data.len()
        )));
    }
    Ok(Value::variant(
        format!("Raw{}", data.len()),
        Composite::unnamed([Value::from_bytes(data)]),
    ))
}

/// The bytes of the first `Data::RawN` field of a `CommitmentInfo`; other kinds of data are
/// not ours and read as nothing.
pub fn first_raw(info: &Value) -> Result<Option<Vec<u8>>, SubtensorError> {
    let fields = field(info, "fields")?;
    for item in items(fields)? {
        if let ValueDef::Variant(v) = &item.value
            && let Some(len) = v.name.strip_prefix("Raw")
        {
            let len: usize = len
                .parse()
                .map_err(|_| SubtensorError::shape("commitment field", &v.name))?;
            let data = match v.values.values().next() {
                Some(inner) if len > 0 => bytes(inner)?,
                _ => Vec::new(),
            };
            if data.len() != len {
                return Err(SubtensorError::shape(
                    "commitment field",
                    format!("{} holds {} bytes", v.name, data.len()),
                ));
            }
            return Ok(Some(data));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(v: Value) -> Value {
        v
    }

    #[test]
    fn raw_data_round_trips_through_commitment_info() {
        for len in [0usize, 1, 32, 128] {
            let data: Vec<u8> = (0..len).map(|i| i as u8 ^ 0x5a).collect();
            let info = Value::named_composite([(
                "fields",
                Value::unnamed_composite([raw_data(&data).unwrap()]),
            )]);
            assert_eq!(first_raw(&typed(info)).unwrap(), Some(data), "{len} bytes");
        }
    }

    #[test]
    fn raw_data_is_found_inside_a_bounded_vec() {
        // How spec 218 answers `CommitmentOf`: the BoundedVec wraps the Vec of fields.
        let info = Value::named_composite([(
            "fields",
            Value::unnamed_composite([Value::unnamed_composite([raw_data(b"abc").unwrap()])]),
        )]);
        assert_eq!(first_raw(&info).unwrap(), Some(b"abc".to_vec()));
    }

    #[test]
    fn oversized_and_foreign_data_are_refused_or_ignored() {
        let e = raw_data(&[0; 129]).unwrap_err();
        assert!(e.to_string().contains("at most 128 bytes"), "{e}");
        let info = Value::named_composite([(
            "fields",
            Value::unnamed_composite([Value::variant(
                "Sha256",
                Composite::unnamed([Value::from_bytes([1u8; 32])]),
            )]),
        )]);
        assert_eq!(first_raw(&typed(info)).unwrap(), None);
        let lying = Value::named_composite([(
            "fields",
            Value::unnamed_composite([Value::variant(
                "Raw4",
                Composite::unnamed([Value::from_bytes([1u8; 3])]),
            )]),
        )]);
        assert!(first_raw(&typed(lying)).is_err());
    }

    #[test]
    fn numbers_and_accounts_read_through_wrappers() {
        let wrapped = typed(Value::unnamed_composite([Value::u128(7)]));
        assert_eq!(number(&wrapped).unwrap(), 7);
        let id = typed(Value::unnamed_composite([Value::from_bytes([9u8; 32])]));
        assert_eq!(account(&id).unwrap(), [9u8; 32]);
        assert!(account(&typed(Value::from_bytes([1u8; 31]))).is_err());
    }
}

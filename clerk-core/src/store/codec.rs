//! How the durable stores keep records in blobs: MessagePack (feature `codec`).
//!
//! MessagePack is self-describing (attribute values are untagged enums, which need that) and keeps every `f64`
//! exactly. Catalog records are written with field names, so a record written before a field was added still
//! reads (the domain types default missing fields). Orders, the bulk of a store, are written as arrays without
//! names ([`encode_compact`]): a field appended to `Order` or `OrderLine` with a default still reads from old
//! blobs; any other change of their layout needs a schema migration.

use serde::de::DeserializeOwned;
use serde::Serialize;

/// The record as a blob, with field names.
///
/// # Errors
/// The message of the encoder when the record cannot be encoded.
pub fn encode<T: Serialize>(record: &T) -> Result<Vec<u8>, String> {
    rmp_serde::to_vec_named(record).map_err(|e| e.to_string())
}

/// The record as a blob of arrays (no field names).
///
/// # Errors
/// The message of the encoder when the record cannot be encoded.
pub fn encode_compact<T: Serialize>(record: &T) -> Result<Vec<u8>, String> {
    rmp_serde::to_vec(record).map_err(|e| e.to_string())
}

/// The record in a blob written by [`encode`] or [`encode_compact`].
///
/// # Errors
/// The message of the decoder when the blob does not hold such a record.
pub fn decode<T: DeserializeOwned>(data: &[u8]) -> Result<T, String> {
    rmp_serde::from_slice(data).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{AttributeValue, Order, OrderLine, Product, Scalar, Timestamp};

    #[test]
    fn records_round_trip_exactly() {
        let mut p = crate::store::conformance::sample_product("p");
        p.price = Some(0.1 + 0.2);
        p.attributes.insert("n".into(), AttributeValue::Number(3.0));
        p.attributes.insert("t".into(), AttributeValue::Text("3".into()));
        p.attributes.insert("l".into(), AttributeValue::List(vec![Scalar::Bool(false), Scalar::Number(-0.5)]));
        assert_eq!(decode::<Product>(&encode(&p).unwrap()).unwrap(), p);
        let mut o = Order::new("o", None, Timestamp(-5));
        o.email = Some("x@y".into());
        o.lines = vec![OrderLine { product_id: "p".into(), quantity: 1.0 / 3.0, unit_price: Some(2.5) }];
        assert_eq!(decode::<Order>(&encode(&o).unwrap()).unwrap(), o);
        assert_eq!(decode::<Order>(&encode_compact(&o).unwrap()).unwrap(), o);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(decode::<Order>(&[0xc1, 0xff, 0x00]).is_err());
        assert!(decode::<Product>(&[]).is_err());
    }
}

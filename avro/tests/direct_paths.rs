//! The codec serializes and deserializes straight between Rust values and bytes (no `Value`
//! tree); these pin down the cases the sample events do not reach: schemas that refer to a named
//! type by name, and how encoding failures are classified.

// A test that cannot unwrap its setup has already failed; panicking says where.
#![allow(clippy::unwrap_used)]

use oot_avro::{
    apache_avro, decode_with, encode_value_with, encode_with, EncodeError, SchemaRegistry,
    SchemaSource,
};
use serde::{ser::Error as _, Deserialize, Serialize, Serializer};

/// `Point` is defined once, then referred to by name (a `Schema::Ref` after parsing), including
/// inside a union and an array.
const WITH_REFS: SchemaSource = SchemaSource {
    version: 1,
    file_name: "with_refs.v1.avsc",
    json: r#"{
      "type": "record", "name": "Shape", "namespace": "test",
      "fields": [
        {"name": "origin", "type": {"type": "record", "name": "Point",
          "fields": [{"name": "x", "type": "long"}, {"name": "y", "type": "long"}]}},
        {"name": "centre", "type": ["null", "Point"], "default": null},
        {"name": "corners", "type": {"type": "array", "items": "test.Point"}},
        {"name": "label", "type": "string"}
      ]
    }"#,
};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Point {
    x: i64,
    y: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Shape {
    origin: Point,
    centre: Option<Point>,
    corners: Vec<Point>,
    label: String,
}

fn shape() -> Shape {
    Shape {
        origin: Point { x: -1, y: 2 },
        centre: Some(Point { x: 3, y: -4 }),
        corners: vec![Point { x: 5, y: 6 }, Point { x: -7, y: 8 }],
        label: "sq".into(),
    }
}

#[test]
fn schema_with_references_round_trips() {
    let registry = SchemaRegistry::new(&[WITH_REFS]).unwrap();
    for value in [
        shape(),
        Shape {
            centre: None,
            corners: vec![],
            ..shape()
        },
    ] {
        let bytes = encode_with(&registry, &value).unwrap();
        let reference =
            encode_value_with(&registry, apache_avro::to_value(&value).unwrap()).unwrap();
        assert_eq!(bytes, reference);
        assert_eq!(decode_with::<Shape>(&registry, &bytes).unwrap(), value);
    }
}

/// A schema field the Rust value lacks is written with its default, as before.
#[test]
fn missing_field_gets_its_default() {
    #[derive(Serialize)]
    struct NoCentre {
        origin: Point,
        corners: Vec<Point>,
        label: String,
    }
    let registry = SchemaRegistry::new(&[WITH_REFS]).unwrap();
    let full = shape();
    let bytes = encode_with(
        &registry,
        &NoCentre {
            origin: full.origin.clone(),
            corners: full.corners.clone(),
            label: full.label.clone(),
        },
    )
    .unwrap();
    let read: Shape = decode_with(&registry, &bytes).unwrap();
    assert_eq!(
        read,
        Shape {
            centre: None,
            ..full
        }
    );
}

/// A Rust field the schema lacks would be dropped from the log without a trace: refused.
#[test]
fn field_unknown_to_the_schema_is_a_schema_mismatch() {
    #[derive(Serialize)]
    struct Extra {
        #[serde(flatten)]
        shape: Shape,
        colour: String,
    }
    let registry = SchemaRegistry::new(&[WITH_REFS]).unwrap();
    let err = encode_with(
        &registry,
        &Extra {
            shape: shape(),
            colour: "red".into(),
        },
    )
    .unwrap_err();
    match err {
        EncodeError::SchemaMismatch { file_name, source } => {
            assert_eq!(file_name, "with_refs.v1.avsc");
            assert!(source.to_string().contains("colour"), "{source}");
        }
        other => panic!("expected SchemaMismatch, got {other:?}"),
    }
}

#[test]
fn wrong_type_is_a_schema_mismatch() {
    #[derive(Serialize)]
    struct Wrong {
        origin: Point,
        centre: Option<Point>,
        corners: Vec<Point>,
        label: i64,
    }
    let registry = SchemaRegistry::new(&[WITH_REFS]).unwrap();
    let full = shape();
    let err = encode_with(
        &registry,
        &Wrong {
            origin: full.origin,
            centre: full.centre,
            corners: full.corners,
            label: 1,
        },
    )
    .unwrap_err();
    assert!(matches!(err, EncodeError::SchemaMismatch { .. }), "{err:?}");
}

/// A value whose own `Serialize` fails is the value's fault, whatever the schema.
#[test]
fn failing_serialize_is_a_serialize_error() {
    struct Broken;
    impl Serialize for Broken {
        fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            Err(S::Error::custom("cannot serialize Broken"))
        }
    }
    let registry = SchemaRegistry::new(&[WITH_REFS]).unwrap();
    let err = encode_with(&registry, &Broken).unwrap_err();
    match err {
        EncodeError::Serialize(source) => {
            assert!(
                source.to_string().contains("cannot serialize Broken"),
                "{source}"
            );
        }
        other => panic!("expected Serialize, got {other:?}"),
    }
}

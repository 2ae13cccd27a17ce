//! Hand-written schema pieces where a derived schema would not match Falco's YAML or the
//! Kubernetes conventions.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};

/// Any JSON value (Falco's exception `fields`, `comps` and `values` take several shapes; the rule
/// engine validates them and reports errors in the FalcoRule's status).
pub fn any_json_value(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "x-kubernetes-preserve-unknown-fields": true,
    })
}

/// An integer or a string (Falco list items).
pub fn int_or_string(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "x-kubernetes-int-or-string": true,
    })
}

/// `metav1.Condition` list, keyed by `type` so server-side apply merges conditions by type.
pub fn conditions_schema(generator: &mut SchemaGenerator) -> Schema {
    let mut schema = <Vec<Condition>>::json_schema(generator);
    schema.insert("x-kubernetes-list-type".into(), "map".into());
    schema.insert(
        "x-kubernetes-list-map-keys".into(),
        serde_json::json!(["type"]),
    );
    schema
}

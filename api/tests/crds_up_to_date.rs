//! The checked-in `crds/*.yaml` must be what the Rust types generate.

use std::path::PathBuf;

#[test]
fn checked_in_crds_match_the_types() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../crds");
    let mut stale = Vec::new();
    for (file, crd) in kestrel_api::crds() {
        let want = kestrel_api::crd_yaml(&crd);
        match std::fs::read_to_string(dir.join(file)) {
            Ok(have) if have == want => {}
            Ok(_) => stale.push(format!("{file} differs")),
            Err(e) => stale.push(format!("{file}: {e}")),
        }
    }
    assert!(
        stale.is_empty(),
        "crds/ is out of date ({}): run `cargo run -p kestrel-api --bin crdgen` and commit crds/",
        stale.join(", ")
    );
}

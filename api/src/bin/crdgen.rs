//! Writes `crds/*.yaml` from the CRD types: `cargo run -p kestrel-api --bin crdgen [DIR]`.

use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let dir = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../crds"));
    std::fs::create_dir_all(&dir)?;
    for (file, crd) in kestrel_api::crds() {
        let path = dir.join(file);
        std::fs::write(&path, kestrel_api::crd_yaml(&crd))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

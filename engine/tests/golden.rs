//! Golden error messages: each `tests/golden/NAME.yaml` is compiled and every diagnostic
//! (Display, errors and warnings) must equal `NAME.out`. `UPDATE_GOLDEN=1` rewrites the `.out`
//! files (review every change by eye).

use std::path::Path;

use kestrel_engine::{CompileOptions, Loader};

fn render(name: &str, text: &str) -> String {
    let mut l = Loader::new();
    l.add_str(format!("{name}.yaml"), text);
    match l.compile(&CompileOptions::default()) {
        Ok(c) => {
            let mut s = String::from("OK\n");
            for w in &c.warnings {
                s.push_str(&w.to_string());
                s.push('\n');
            }
            s
        }
        Err(d) => format!("{d}\n"),
    }
}

#[test]
fn golden_error_messages() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    entries.sort();
    assert!(entries.len() >= 30, "only {} golden inputs", entries.len());
    let mut failures = Vec::new();
    for input in &entries {
        let name = input.file_stem().unwrap().to_str().unwrap();
        let got = render(name, &std::fs::read_to_string(input).unwrap());
        let out = input.with_extension("out");
        if update {
            std::fs::write(&out, &got).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&out).unwrap_or_default();
        if got != want {
            failures.push(format!("--- {name}\nwant:\n{want}got:\n{got}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} golden mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

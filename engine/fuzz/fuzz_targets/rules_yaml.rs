//! Fuzz the whole loader with arbitrary YAML: nothing may panic, and every error renders.
#![no_main]

use kestrel_engine::{CompileOptions, compile_str};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match compile_str("fuzz.yaml", text, &CompileOptions::default()) {
        Ok(c) => {
            let _ = c.ruleset.wanted_event_types();
        }
        Err(d) => {
            let _ = d.to_string();
        }
    }
});

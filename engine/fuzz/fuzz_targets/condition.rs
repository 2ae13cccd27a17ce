//! Fuzz the condition parser, binder and compiler through a one-rule document, and evaluate
//! whatever compiles against a fixed event: nothing may panic.
#![no_main]

use kestrel_engine::{CompileOptions, Loader, MapEvent};
use libfuzzer_sys::fuzz_target;

const PRELUDE: &str = "- list: l\n  items: [a, b, '\"c d\"']\n- macro: m\n  condition: proc.name = a\n";

fuzz_target!(|data: &[u8]| {
    let Ok(cond) = std::str::from_utf8(data) else { return };
    let Ok(quoted) = serde_json_like(cond) else { return };
    let yaml = format!(
        "{PRELUDE}- rule: r\n  desc: d\n  condition: {quoted}\n  output: \"%proc.name %fd.name\"\n  priority: INFO\n"
    );
    let mut l = Loader::new();
    l.add_str("fuzz.yaml", yaml);
    match l.compile(&CompileOptions::default()) {
        Ok(c) => {
            let ev = MapEvent::from_pairs(&[
                ("evt.type", "openat"),
                ("proc.name", "a"),
                ("fd.name", "/etc/passwd"),
                ("fd.num", "3"),
            ])
            .unwrap();
            c.ruleset.evaluate(&ev, &mut |r| {
                let _ = r.output.render_to_string(&ev);
                std::ops::ControlFlow::Continue(())
            });
        }
        Err(d) => {
            let _ = d.to_string();
        }
    }
});

/// A YAML double-quoted scalar holding `s`.
fn serde_json_like(s: &str) -> Result<String, ()> {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => return Err(()),
            c => out.push(c),
        }
    }
    out.push('"');
    Ok(out)
}

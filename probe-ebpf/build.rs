//! Builds the kernel side of the probe.
//!
//! 1. `vmlinux.h` is generated into OUT_DIR with `bpftool btf dump ... format c` from the
//!    build host's kernel BTF (`/sys/kernel/btf/vmlinux`, or the file named by `KESTREL_BTF`).
//!    Generated rather than checked in: it is exact (no hand-copied kernel structs to get
//!    wrong), it costs nothing to keep current, and CO-RE relocations make the object
//!    portable to any kernel with BTF whatever kernel built it. Hosts without BTF (some
//!    container builders) point `KESTREL_BTF` at a BTF file (e.g. one from BTFHub).
//! 2. `src/bpf/kestrel.bpf.c` is compiled with clang-22 (`-target bpf`, CO-RE) into
//!    `OUT_DIR/kestrel.bpf.o`, embedded by `src/loader.rs`.
//! 3. `src/bpf/layout_anchor.bpf.c` (the ABI header only) is compiled the same way; its BTF
//!    is dumped with bpftool and turned into `OUT_DIR/c_layout.rs`: size and offset of every
//!    field of every `kestrel_*` struct and the value of every `KESTREL_*` enumerator, which
//!    the layout tests compare with the Rust mirrors.
//!
//! Tools are found on PATH (plus /usr/sbin and /sbin for bpftool) or through
//! `KESTREL_CLANG`, `KESTREL_BPFTOOL`, `KESTREL_LLVM_STRIP`, `KESTREL_LIBBPF_INCLUDE`.

use std::collections::HashMap;
use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, exit};

const APT_HINT: &str = "install them with: apt-get install clang-22 llvm-22 libbpf-dev bpftool";

fn main() {
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR"));
    for watched in ["build.rs", "src/bpf", "include"] {
        println!("cargo:rerun-if-changed={watched}");
    }
    for var in [
        "KESTREL_CLANG",
        "KESTREL_BPFTOOL",
        "KESTREL_BTF",
        "KESTREL_LLVM_STRIP",
        "KESTREL_LIBBPF_INCLUDE",
    ] {
        println!("cargo:rerun-if-env-changed={var}");
    }

    let clang = find_tool("KESTREL_CLANG", "clang-22", &[]).unwrap_or_else(|| {
        fail(&format!(
            "clang-22 not found (needed to compile the eBPF probe); {APT_HINT}, \
             or set KESTREL_CLANG to a clang >= 22 binary"
        ))
    });
    let bpftool =
        find_tool("KESTREL_BPFTOOL", "bpftool", &["/usr/sbin", "/sbin"]).unwrap_or_else(|| {
            fail(&format!(
                "bpftool not found (needed to generate vmlinux.h and read BTF); {APT_HINT}, \
                 or set KESTREL_BPFTOOL"
            ))
        });
    let libbpf_include = libbpf_include_dir().unwrap_or_else(|| {
        fail(&format!(
            "libbpf headers (bpf/bpf_helpers.h) not found; {APT_HINT}, \
             or set KESTREL_LIBBPF_INCLUDE to the directory holding bpf/bpf_helpers.h"
        ))
    });
    let btf = env::var_os("KESTREL_BTF")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/sys/kernel/btf/vmlinux"));
    if !btf.exists() {
        fail(&format!(
            "kernel BTF not found at {}: vmlinux.h is generated from it. Build on a kernel \
             with CONFIG_DEBUG_INFO_BTF=y or set KESTREL_BTF to a BTF file",
            btf.display()
        ));
    }

    let vmlinux_h = out.join("vmlinux.h");
    let dump = run_capture(
        Command::new(&bpftool)
            .args(["btf", "dump", "file"])
            .arg(&btf)
            .args(["format", "c"]),
        "bpftool btf dump (vmlinux.h)",
    );
    write_if_changed(&vmlinux_h, &dump);

    let include = manifest.join("include");
    let probe_obj = out.join("kestrel.bpf.o");
    compile_bpf(
        &clang,
        &manifest.join("src/bpf/kestrel.bpf.c"),
        &probe_obj,
        &[&include, &out, &libbpf_include],
    );
    // Drop DWARF (keeps .BTF/.BTF.ext, which the loader needs) to keep the binary small.
    if let Some(strip) = find_tool("KESTREL_LLVM_STRIP", "llvm-strip-22", &[]) {
        run(
            Command::new(strip).arg("-g").arg(&probe_obj),
            "llvm-strip-22 -g kestrel.bpf.o",
        );
    }

    let layout_obj = out.join("layout_anchor.bpf.o");
    compile_bpf(
        &clang,
        &manifest.join("src/bpf/layout_anchor.bpf.c"),
        &layout_obj,
        &[&include, &out, &libbpf_include],
    );
    let raw = run_capture(
        Command::new(&bpftool)
            .args(["btf", "dump", "file"])
            .arg(&layout_obj)
            .args(["format", "raw"]),
        "bpftool btf dump (layout)",
    );
    let layout = layout_rs(&String::from_utf8_lossy(&raw));
    write_if_changed(&out.join("c_layout.rs"), layout.as_bytes());
}

fn fail(msg: &str) -> ! {
    eprintln!("error: {msg}");
    println!("cargo:warning={msg}");
    exit(1)
}

fn find_tool(var: &str, name: &str, extra_dirs: &[&str]) -> Option<PathBuf> {
    if let Some(p) = env::var_os(var) {
        let p = PathBuf::from(p);
        return p.exists().then_some(p);
    }
    let path = env::var_os("PATH").unwrap_or_default();
    env::split_paths(&path)
        .chain(extra_dirs.iter().map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn libbpf_include_dir() -> Option<PathBuf> {
    if let Some(p) = env::var_os("KESTREL_LIBBPF_INCLUDE") {
        return Some(PathBuf::from(p));
    }
    ["/usr/include", "/usr/local/include"]
        .iter()
        .map(PathBuf::from)
        .find(|d| d.join("bpf/bpf_helpers.h").is_file())
}

fn compile_bpf(clang: &Path, src: &Path, obj: &Path, includes: &[&Path]) {
    let mut cmd = Command::new(clang);
    cmd.args([
        "-target",
        "bpf",
        "-D__TARGET_ARCH_x86",
        "-g",
        "-O2",
        "-mcpu=v3",
        "-Wall",
        "-Werror",
        "-Wno-unused-function",
        // libbpf 1.1 BPF_CORE_READ declares an uninitialized `typeof(field)` temporary,
        // which clang >= 21 flags for const fields; the macro fills it right after.
        "-Wno-default-const-init-var-unsafe",
        "-c",
    ]);
    for i in includes {
        cmd.arg("-I").arg(i);
    }
    cmd.arg(src).arg("-o").arg(obj);
    run(&mut cmd, &format!("clang-22 {}", src.display()));
}

fn run(cmd: &mut Command, what: &str) {
    let status = cmd
        .status()
        .unwrap_or_else(|e| fail(&format!("{what}: cannot run: {e}")));
    if !status.success() {
        fail(&format!("{what} failed ({status})"));
    }
}

fn run_capture(cmd: &mut Command, what: &str) -> Vec<u8> {
    let output = cmd
        .output()
        .unwrap_or_else(|e| fail(&format!("{what}: cannot run: {e}")));
    if !output.status.success() {
        fail(&format!(
            "{what} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    output.stdout
}

fn write_if_changed(path: &Path, bytes: &[u8]) {
    if fs::read(path).ok().as_deref() != Some(bytes) {
        fs::write(path, bytes)
            .unwrap_or_else(|e| fail(&format!("writing {}: {e}", path.display())));
    }
}

/// One BTF type from `bpftool btf dump format raw`.
#[derive(Default)]
struct BtfType {
    kind: String,
    name: String,
    size: Option<u64>,
    type_id: Option<u32>,
    nr_elems: Option<u64>,
    members: Vec<(String, u32, u64)>, // (name, type_id, bits_offset)
    enumerators: Vec<(String, i64)>,
}

fn attr<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
}

fn quoted(line: &str) -> String {
    line.split('\'').nth(1).unwrap_or("").to_string()
}

fn parse_btf(raw: &str) -> HashMap<u32, BtfType> {
    let mut types = HashMap::new();
    let mut current: Option<u32> = None;
    for line in raw.lines() {
        if let Some(rest) = line.strip_prefix('[') {
            let (id, rest) = rest.split_once("] ").expect("btf raw line");
            let id: u32 = id.parse().expect("btf id");
            let kind = rest.split_whitespace().next().unwrap_or("").to_string();
            let t = BtfType {
                kind,
                name: quoted(rest),
                size: attr(rest, "size").and_then(|v| v.parse().ok()),
                type_id: attr(rest, "type_id").and_then(|v| v.parse().ok()),
                nr_elems: attr(rest, "nr_elems").and_then(|v| v.parse().ok()),
                ..Default::default()
            };
            types.insert(id, t);
            current = Some(id);
        } else if let (Some(id), Some(member)) = (current, line.strip_prefix('\t')) {
            let t = types.get_mut(&id).expect("current type");
            let name = quoted(member);
            if let Some(v) = attr(member, "val") {
                t.enumerators.push((name, v.parse().expect("enum value")));
            } else if let (Some(ty), Some(bits)) =
                (attr(member, "type_id"), attr(member, "bits_offset"))
            {
                t.members.push((
                    name,
                    ty.parse().expect("member type"),
                    bits.parse().expect("bits"),
                ));
            }
        }
    }
    types
}

fn type_size(types: &HashMap<u32, BtfType>, id: u32) -> u64 {
    let t = &types[&id];
    match t.kind.as_str() {
        "ARRAY" => t.nr_elems.unwrap_or(0) * type_size(types, t.type_id.expect("array type")),
        "TYPEDEF" | "CONST" | "VOLATILE" | "RESTRICT" => {
            type_size(types, t.type_id.expect("typedef"))
        }
        "PTR" => 8,
        _ => t
            .size
            .unwrap_or_else(|| panic!("no size for BTF type {id} ({})", t.kind)),
    }
}

fn layout_rs(raw: &str) -> String {
    let types = parse_btf(raw);
    let mut ids: Vec<_> = types.keys().copied().collect();
    ids.sort_unstable();
    let mut s = String::from("// Generated by build.rs from the BTF of layout_anchor.bpf.o.\n");
    s.push_str("pub const C_STRUCTS: &[CStruct] = &[\n");
    for id in &ids {
        let t = &types[id];
        if t.kind != "STRUCT"
            || !t.name.starts_with("kestrel_")
            || t.name == "kestrel_layout_anchor"
        {
            continue;
        }
        writeln!(
            s,
            "    CStruct {{ name: {:?}, size: {}, fields: &[",
            t.name,
            t.size.unwrap_or(0)
        )
        .unwrap();
        for (name, ty, bits) in &t.members {
            assert!(bits % 8 == 0, "bitfield {name} in {}", t.name);
            writeln!(
                s,
                "        CField {{ name: {:?}, offset: {}, size: {} }},",
                name,
                bits / 8,
                type_size(&types, *ty)
            )
            .unwrap();
        }
        s.push_str("    ] },\n");
    }
    s.push_str("];\n");
    s.push_str("pub const C_ENUMERATORS: &[CEnumerator] = &[\n");
    for id in &ids {
        let t = &types[id];
        if !(t.kind == "ENUM" || t.kind == "ENUM64") || !t.name.starts_with("kestrel_") {
            continue;
        }
        for (name, value) in &t.enumerators {
            writeln!(
                s,
                "    CEnumerator {{ enumeration: {:?}, name: {:?}, value: {} }},",
                t.name, name, value
            )
            .unwrap();
        }
    }
    s.push_str("];\n");
    s
}

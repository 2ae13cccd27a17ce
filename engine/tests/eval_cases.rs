//! Table-driven evaluation: condition, event, expected result.

use kestrel_engine::{CompileOptions, Loader, MapEvent};

const PRELUDE: &str = r#"
- list: shells
  items: [bash, sh, zsh]
- list: more_shells
  items: [shells, fish]
- list: nets
  items: ['"10.0.0.0/8"', "192.168.0.0/16"]
- list: ports
  items: [22, 80, 443]
- list: quoted
  items: ['"(systemd)"', '"sh -c ls"']
- list: empty
  items: []
- macro: is_open
  condition: evt.type in (open, openat)
- macro: shell
  condition: proc.name in (shells)
- macro: nested
  condition: is_open and shell
- macro: never_true
  condition: (evt.num=0)
"#;

const OPEN: &str = r#""evt.type":"openat","evt.num":7,"fd.name":"/etc/passwd","fd.directory":"/etc","fd.filename":"passwd","fd.num":3,"fd.typechar":"f","evt.is_open_read":true,"proc.name":"bash","proc.pid":1234,"proc.cmdline":"bash -c cat /etc/passwd","proc.args":"-c cat /etc/passwd","proc.exe":"/usr/bin/Bash","proc.pname":"sshd","proc.aname":["sshd","systemd"],"user.uid":0,"user.name":"root","evt.arg.flags":"O_RDONLY|O_CLOEXEC","proc.env[HOME]":"/root","evt.rawres":3,"evt.res":"SUCCESS""#;
const CONNECT: &str = r#""evt.type":"connect","evt.num":9,"fd.typechar":"4","fd.sip":"10.1.2.3","fd.cip":"172.17.0.2","fd.snet":"10.1.2.3","fd.net":"10.1.2.3","fd.sport":443,"fd.cport":51234,"fd.l4proto":"tcp","proc.name":"curl","evt.rawres":-115,"evt.res":"EINPROGRESS","fd.types":["ipv4","file"]"#;

fn ev(fields: &str) -> MapEvent {
    MapEvent::from_json(&format!("{{{fields}}}")).unwrap_or_else(|e| panic!("{fields}: {e}"))
}

fn eval(extra: &str, cond: &str, event: &MapEvent) -> bool {
    let yaml = format!(
        "{PRELUDE}{extra}\n- rule: t\n  desc: t\n  condition: {}\n  output: out\n  priority: WARNING\n  warn_evttypes: false\n",
        serde_json::to_string(cond).unwrap()
    );
    let mut l = Loader::new();
    l.add_str("cases.yaml", yaml);
    let c = l
        .compile(&CompileOptions::default())
        .unwrap_or_else(|e| panic!("{cond}:\n{e}"));
    let mut hit = false;
    let _ = c.ruleset.evaluate(event, &mut |_| {
        hit = true;
        std::ops::ControlFlow::Break(())
    });
    hit
}

fn run(cases: &[(&str, &str, bool)]) {
    let mut failures = Vec::new();
    for (cond, event, want) in cases {
        let got = eval("", cond, &ev(event));
        if got != *want {
            failures.push(format!("{cond}  =>  got {got}, want {want}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn string_operators() {
    run(&[
        ("fd.name = /etc/passwd", OPEN, true),
        ("fd.name == /etc/passwd", OPEN, true),
        ("fd.name = /etc/shadow", OPEN, false),
        ("fd.name != /etc/shadow", OPEN, true),
        ("fd.name != /etc/passwd", OPEN, false),
        ("fd.name contains pass", OPEN, true),
        ("fd.name contains PASS", OPEN, false),
        ("fd.name icontains PASS", OPEN, true),
        ("proc.exe icontains bash", OPEN, true),
        ("fd.name startswith /etc/", OPEN, true),
        ("fd.name startswith /usr", OPEN, false),
        ("fd.name endswith passwd", OPEN, true),
        ("fd.name endswith shadow", OPEN, false),
        ("fd.name glob '/etc/*'", OPEN, true),
        ("fd.name glob '/etc/p?sswd'", OPEN, true),
        ("fd.name glob '/etc/p?wd'", OPEN, false),
        ("fd.name glob '/etc/pa[sx]swd'", OPEN, true),
        ("fd.name iglob '/ETC/*'", OPEN, true),
        ("fd.name glob '/ETC/*'", OPEN, false),
        ("fd.name regex '/etc/[a-z]+'", OPEN, true),
        ("fd.name regex 'etc'", OPEN, false),
        ("fd.name regex '.*etc.*'", OPEN, true),
        ("proc.cmdline regex 'bash -c .*'", OPEN, true),
        ("fd.name bcontains 706173", OPEN, true),
        ("fd.name bcontains 7a7a", OPEN, false),
        ("fd.name bstartswith 2f657463", OPEN, true),
        ("fd.name bstartswith 657463", OPEN, false),
        ("fd.name pmatch (/etc, /var)", OPEN, true),
        ("fd.name pmatch (/et, /var)", OPEN, false),
        ("fd.name pmatch (/etc/passwd)", OPEN, true),
        ("fd.name pmatch (/*/passwd)", OPEN, true),
        ("fd.name in (/etc/passwd, /etc/shadow)", OPEN, true),
        ("fd.name in (/etc/shadow)", OPEN, false),
        ("fd.name intersects (/etc/passwd)", OPEN, true),
        ("fd.name exists", OPEN, true),
        ("fd.name exists", CONNECT, false),
        ("not fd.name exists", CONNECT, true),
        ("fd.typechar='f'", OPEN, true),
        ("fd.typechar=\"f\"", OPEN, true),
        ("fd.typechar=4", CONNECT, true),
        ("evt.res startswith E", CONNECT, true),
        ("evt.res startswith E", OPEN, false),
        ("evt.arg.flags contains O_RDONLY", OPEN, true),
        ("evt.arg.flags contains \"O_TRUNC\"", OPEN, false),
        ("proc.env[HOME] = /root", OPEN, true),
        ("proc.env[PATH] exists", OPEN, false),
        ("proc.cmdline = \"bash -c cat /etc/passwd\"", OPEN, true),
        ("proc.cmdline contains ' -c '", OPEN, true),
        ("proc.cmdline = 'bash -c cat /etc/passwd'", OPEN, true),
    ]);
}

#[test]
fn missing_fields_never_match() {
    run(&[
        ("user.loginname = root", OPEN, false),
        ("user.loginname != root", OPEN, false),
        ("not user.loginname = root", OPEN, true),
        ("user.loginname contains r", OPEN, false),
        ("user.loginname in (root)", OPEN, false),
        ("user.loginuid > 0", OPEN, false),
        ("user.loginuid < 0", OPEN, false),
        ("not user.loginuid exists", OPEN, true),
        ("proc.aname[5] = x", OPEN, false),
        ("not proc.name in (\"<NA>\",\"N/A\")", OPEN, true),
        (
            "not proc.name in (\"<NA>\",\"N/A\")",
            r#""evt.type":"openat""#,
            true,
        ),
    ]);
}

#[test]
fn numeric_operators() {
    run(&[
        ("fd.num = 3", OPEN, true),
        ("fd.num = 4", OPEN, false),
        ("fd.num != 4", OPEN, true),
        ("fd.num >= 0", OPEN, true),
        ("fd.num > 3", OPEN, false),
        ("fd.num < 4", OPEN, true),
        ("fd.num <= 2", OPEN, false),
        ("fd.num = 0x3", OPEN, true),
        ("fd.num in (1, 2, 3)", OPEN, true),
        ("fd.num in (1, 2)", OPEN, false),
        ("evt.rawres >= 0", CONNECT, false),
        ("evt.rawres < 0", CONNECT, true),
        ("evt.rawres = -115", CONNECT, true),
        ("evt.rawres in (0, 1, 2)", OPEN, false),
        ("evt.rawres in (3)", OPEN, true),
        ("fd.sport in (ports)", CONNECT, true),
        ("fd.cport in (ports)", CONNECT, false),
        ("fd.sport = 443", CONNECT, true),
        ("fd.sport > 1024", CONNECT, false),
        ("user.uid = 0", OPEN, true),
        ("user.uid != 0", OPEN, false),
        ("evt.num = 7", OPEN, true),
        ("evt.num > 7", OPEN, false),
        ("proc.pid = 1234", OPEN, true),
        ("proc.pid intersects (1, 1234)", OPEN, true),
        ("evt.rawres >= 0 or evt.res = EINPROGRESS", CONNECT, true),
    ]);
}

#[test]
fn bool_and_ip_operators() {
    run(&[
        ("evt.is_open_read = true", OPEN, true),
        ("evt.is_open_read=false", OPEN, false),
        ("evt.is_open_read != false", OPEN, true),
        ("evt.is_open_write = true", OPEN, false),
        ("evt.is_open_read in (true)", OPEN, true),
        ("fd.sip = 10.1.2.3", CONNECT, true),
        ("fd.sip = \"10.1.2.4\"", CONNECT, false),
        ("fd.sip != 10.1.2.4", CONNECT, true),
        ("fd.sip in (10.1.2.3, 10.1.2.4)", CONNECT, true),
        ("fd.cip in (10.1.2.3)", CONNECT, false),
        ("fd.snet = 10.0.0.0/8", CONNECT, true),
        ("fd.snet = \"10.0.0.0/8\"", CONNECT, true),
        ("fd.snet != \"10.0.0.0/8\"", CONNECT, false),
        ("fd.snet = 192.168.0.0/16", CONNECT, false),
        ("fd.snet in (nets)", CONNECT, true),
        ("not fd.snet in (nets)", CONNECT, false),
        ("fd.net != \"127.0.0.0/8\"", CONNECT, true),
        ("fd.snet in (\"172.16.0.0/12\")", CONNECT, false),
        ("fd.snet = 10.1.2.3", CONNECT, true),
        ("fd.sip exists", CONNECT, true),
        ("fd.sip exists", OPEN, false),
    ]);
}

#[test]
fn multi_valued_and_list_fields() {
    run(&[
        ("proc.aname = systemd", OPEN, true),
        ("proc.aname = sshd", OPEN, true),
        ("proc.aname = init", OPEN, false),
        ("proc.aname in (init, systemd)", OPEN, true),
        ("proc.aname in (init)", OPEN, false),
        ("proc.aname != sshd", OPEN, true),
        ("proc.aname startswith sys", OPEN, true),
        ("proc.aname[1] = sshd", OPEN, true),
        ("proc.aname[1] = systemd", OPEN, false),
        ("proc.aname[2] = systemd", OPEN, true),
        ("proc.aname[2] startswith sys", OPEN, true),
        ("proc.aname[3] exists", OPEN, false),
        ("proc.aname[0] = bash", OPEN, true),
        ("fd.types intersects (ipv4)", CONNECT, true),
        ("fd.types intersects (unix)", CONNECT, false),
        ("fd.types in (ipv4, file, pipe)", CONNECT, true),
        ("fd.types in (ipv4)", CONNECT, false),
        ("fd.types exists", CONNECT, true),
        ("proc.name in (shells)", OPEN, true),
        ("proc.name in (more_shells)", OPEN, true),
        ("proc.name in (more_shells, fish)", OPEN, true),
        ("proc.name in (zsh, more_shells)", OPEN, true),
        ("proc.name in (empty)", OPEN, false),
        ("proc.name in (empty, bash)", OPEN, true),
        ("proc.name in ()", OPEN, false),
        ("not proc.name in ()", OPEN, true),
        ("proc.name in shells", OPEN, true),
        ("proc.name in (\"shells\")", OPEN, false),
        (
            "proc.name in (quoted)",
            r#""evt.type":"execve","proc.name":"(systemd)""#,
            true,
        ),
        (
            "proc.cmdline in (quoted)",
            r#""evt.type":"execve","proc.cmdline":"sh -c ls""#,
            true,
        ),
        (
            "proc.name in (undefined_list_name)",
            r#""evt.type":"execve","proc.name":"undefined_list_name""#,
            true,
        ),
        (
            "proc.name in (runc:[0:PARENT], runc)",
            r#""evt.type":"execve","proc.name":"runc:[0:PARENT]""#,
            true,
        ),
    ]);
}

#[test]
fn transformers_and_val() {
    run(&[
        ("tolower(proc.exe) = /usr/bin/bash", OPEN, true),
        ("proc.exe = /usr/bin/bash", OPEN, false),
        ("toupper(proc.name) = BASH", OPEN, true),
        ("basename(proc.exe) = Bash", OPEN, true),
        ("tolower(basename(proc.exe)) = bash", OPEN, true),
        ("basename(fd.name) in (passwd, shadow)", OPEN, true),
        ("len(proc.name) = 4", OPEN, true),
        ("len(proc.name) > 4", OPEN, false),
        ("len(fd.name) >= 11", OPEN, true),
        (
            "b64(proc.args) contains passwd",
            r#""evt.type":"execve","proc.args":"Y2F0IC9ldGMvcGFzc3dk""#,
            true,
        ),
        (
            "b64(proc.args) = 'cat /etc/passwd'",
            r#""evt.type":"execve","proc.args":"Y2F0IC9ldGMvcGFzc3dk""#,
            true,
        ),
        (
            "b64(proc.args) exists",
            r#""evt.type":"execve","proc.args":"!!not base64!!""#,
            false,
        ),
        ("tolower(proc.aname) = SSHD", OPEN, false),
        ("toupper(proc.aname) = SSHD", OPEN, true),
        ("proc.name = val(proc.name)", OPEN, true),
        ("proc.name = val(proc.pname)", OPEN, false),
        ("proc.name != val(proc.pname)", OPEN, true),
        ("fd.name contains val(fd.filename)", OPEN, true),
        ("fd.name startswith val(fd.directory)", OPEN, true),
        ("fd.name endswith val(fd.directory)", OPEN, false),
        ("proc.pname = val(proc.aname[1])", OPEN, true),
        ("proc.pid > val(fd.num)", OPEN, true),
        ("fd.num > val(proc.pid)", OPEN, false),
        ("proc.name = val(user.loginname)", OPEN, false),
        (
            "basename(proc.exe) = val(toupper(proc.name))",
            r#""evt.type":"execve","proc.exe":"/bin/BASH","proc.name":"bash""#,
            true,
        ),
    ]);
}

#[test]
fn boolean_logic_and_macros() {
    run(&[
        ("is_open", OPEN, true),
        ("is_open", CONNECT, false),
        ("not is_open", CONNECT, true),
        ("shell", OPEN, true),
        ("nested", OPEN, true),
        ("nested and fd.num = 3", OPEN, true),
        ("nested and fd.num = 4", OPEN, false),
        ("never_true", OPEN, false),
        ("not never_true", OPEN, true),
        ("is_open or evt.type = connect", CONNECT, true),
        (
            "(is_open or evt.type = connect) and proc.name = curl",
            CONNECT,
            true,
        ),
        (
            "is_open or evt.type = connect and proc.name = bash",
            CONNECT,
            false,
        ),
        (
            "is_open or (evt.type = connect and proc.name = curl)",
            CONNECT,
            true,
        ),
        ("not (fd.num = 3 or fd.num = 4)", OPEN, false),
        ("not not fd.num = 3", OPEN, true),
        (
            "fd.num=3 and not fd.name=/etc/shadow and not proc.name in (zsh)",
            OPEN,
            true,
        ),
        ("((((fd.num = 3))))", OPEN, true),
        (
            "fd.num = 3 and (proc.name = x or (proc.name = bash and (fd.name = a or fd.name = /etc/passwd)))",
            OPEN,
            true,
        ),
    ]);
}

#[test]
fn event_type_indexing() {
    run(&[
        ("evt.type = openat", OPEN, true),
        ("evt.type = open", OPEN, false),
        ("evt.type != open", OPEN, true),
        ("evt.type != openat", OPEN, false),
        ("evt.type in (open, openat, openat2)", OPEN, true),
        ("evt.type in (execve)", OPEN, false),
        ("not evt.type in (execve)", OPEN, true),
        ("not evt.type = openat", OPEN, false),
        ("evt.type = connect and fd.sip exists", CONNECT, true),
        ("evt.type startswith open", OPEN, true),
        ("evt.type startswith open", CONNECT, false),
        ("evt.type exists", OPEN, true),
        (
            "evt.type = procexit",
            r#""evt.type":"procexit","proc.name":"bash""#,
            true,
        ),
        (
            "evt.type in (open, openat) or proc.name = curl",
            CONNECT,
            true,
        ),
        (
            "(evt.type = open or evt.type = openat) and not evt.type = openat",
            OPEN,
            false,
        ),
    ]);
}

fn rules_with(extra: &str, event: &str) -> Vec<String> {
    let mut l = Loader::new();
    l.add_str("base.yaml", format!("{PRELUDE}{extra}"));
    let c = l
        .compile(&CompileOptions::default())
        .unwrap_or_else(|e| panic!("{e}"));
    let mut out = Vec::new();
    let _ = c.ruleset.evaluate(&ev(event), &mut |r| {
        out.push(r.name.clone());
        std::ops::ControlFlow::Continue(())
    });
    out
}

const RULE: &str = r#"
- rule: r
  desc: d
  condition: evt.type = openat and fd.name startswith /etc
  output: o
  priority: WARNING
"#;

#[test]
fn exceptions() {
    let cases: &[(&str, &str, bool)] = &[
        // single-field form, default comp `in`
        (
            "  exceptions:\n  - name: e\n    fields: proc.name\n    values: [bash, zsh]\n",
            OPEN,
            false,
        ),
        (
            "  exceptions:\n  - name: e\n    fields: proc.name\n    values: [zsh]\n",
            OPEN,
            true,
        ),
        // list names inside values
        (
            "  exceptions:\n  - name: e\n    fields: proc.name\n    values: [shells]\n",
            OPEN,
            false,
        ),
        // tuple form, default comps `=`
        (
            "  exceptions:\n  - name: e\n    fields: [proc.name, fd.name]\n    values:\n    - [bash, /etc/passwd]\n",
            OPEN,
            false,
        ),
        (
            "  exceptions:\n  - name: e\n    fields: [proc.name, fd.name]\n    values:\n    - [bash, /etc/shadow]\n",
            OPEN,
            true,
        ),
        // tuple form with comps
        (
            "  exceptions:\n  - name: e\n    fields: [proc.name, fd.name]\n    comps: [=, startswith]\n    values:\n    - [zsh, /etc]\n    - [bash, /etc]\n",
            OPEN,
            false,
        ),
        (
            "  exceptions:\n  - name: e\n    fields: [proc.name, fd.name]\n    comps: [in, pmatch]\n    values:\n    - [[zsh, bash], [/etc]]\n",
            OPEN,
            false,
        ),
        (
            "  exceptions:\n  - name: e\n    fields: [proc.name, fd.name]\n    comps: [in, pmatch]\n    values:\n    - [shells, [/usr]]\n",
            OPEN,
            true,
        ),
        (
            "  exceptions:\n  - name: e\n    fields: [proc.name]\n    comps: [in]\n    values:\n    - [more_shells]\n",
            OPEN,
            false,
        ),
        // no values: no effect
        (
            "  exceptions:\n  - name: e\n    fields: [proc.name]\n",
            OPEN,
            true,
        ),
        // values with spaces are quoted
        (
            "  exceptions:\n  - name: e\n    fields: proc.cmdline\n    values: [\"bash -c cat /etc/passwd\"]\n",
            OPEN,
            false,
        ),
        // two exceptions
        (
            "  exceptions:\n  - name: a\n    fields: proc.name\n    values: [zsh]\n  - name: b\n    fields: fd.num\n    comps: in\n    values: [\"3\"]\n",
            OPEN,
            false,
        ),
    ];
    let mut failures = Vec::new();
    for (exc, event, want) in cases {
        let got = !rules_with(&format!("{RULE}{exc}"), event).is_empty();
        if got != *want {
            failures.push(format!("{exc}=> got {got}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn append_and_override() {
    let cases: &[(&str, &str, bool)] = &[
        // condition append (legacy)
        (
            "- rule: r\n  append: true\n  condition: and proc.name = zsh\n",
            OPEN,
            false,
        ),
        (
            "- rule: r\n  append: true\n  condition: and proc.name = bash\n",
            OPEN,
            true,
        ),
        // override append / replace of the condition
        (
            "- rule: r\n  condition: and proc.name = zsh\n  override:\n    condition: append\n",
            OPEN,
            false,
        ),
        (
            "- rule: r\n  condition: evt.type = openat and proc.name = bash\n  override:\n    condition: replace\n",
            OPEN,
            true,
        ),
        (
            "- rule: r\n  condition: evt.type = connect\n  override:\n    condition: replace\n",
            OPEN,
            false,
        ),
        // enabled
        ("- rule: r\n  enabled: false\n", OPEN, false),
        (
            "- rule: r\n  enabled: false\n  override:\n    enabled: replace\n",
            OPEN,
            false,
        ),
        (
            "- rule: r\n  enabled: false\n- rule: r\n  enabled: true\n",
            OPEN,
            true,
        ),
        // exceptions appended to an existing exception by name
        (
            "  exceptions:\n  - name: e\n    fields: proc.name\n    values: [zsh]\n- rule: r\n  append: true\n  exceptions:\n  - name: e\n    values: [bash]\n",
            OPEN,
            false,
        ),
        (
            "- rule: r\n  exceptions:\n  - name: e\n    fields: proc.name\n    values: [bash]\n  override:\n    exceptions: append\n",
            OPEN,
            false,
        ),
        // list append / override
        (
            "- list: shells\n  append: true\n  items: [csh]\n- rule: s\n  desc: d\n  condition: evt.type=execve and proc.name in (shells)\n  output: o\n  priority: INFO\n",
            r#""evt.type":"execve","proc.name":"csh""#,
            true,
        ),
        (
            "- list: shells\n  items: [csh]\n  override:\n    items: replace\n- rule: s\n  desc: d\n  condition: evt.type=execve and proc.name in (shells)\n  output: o\n  priority: INFO\n",
            r#""evt.type":"execve","proc.name":"bash""#,
            false,
        ),
        (
            "- list: shells\n  items: [ksh]\n  override:\n    items: append\n- rule: s\n  desc: d\n  condition: evt.type=execve and proc.name in (more_shells)\n  output: o\n  priority: INFO\n",
            r#""evt.type":"execve","proc.name":"bash""#,
            true,
        ),
        // macro redefinition replaces; macro append
        (
            "- macro: never_true\n  condition: (evt.num=7)\n- rule: s\n  desc: d\n  condition: evt.type=openat and never_true\n  output: o\n  priority: INFO\n",
            OPEN,
            true,
        ),
        (
            "- macro: shell\n  append: true\n  condition: or proc.name = curl\n- rule: s\n  desc: d\n  condition: evt.type=connect and shell\n  output: o\n  priority: INFO\n",
            CONNECT,
            true,
        ),
        (
            "- macro: shell\n  condition: and proc.name = zsh\n  override:\n    condition: append\n- rule: s\n  desc: d\n  condition: evt.type=openat and shell\n  output: o\n  priority: INFO\n",
            OPEN,
            false,
        ),
        // later definition of a rule replaces it
        (
            "- rule: r\n  desc: d\n  condition: evt.type = openat and proc.name = nobody\n  output: o\n  priority: INFO\n",
            OPEN,
            false,
        ),
    ];
    let mut failures = Vec::new();
    for (extra, event, want) in cases {
        let target = if extra.contains("- rule: s\n") {
            "s"
        } else {
            "r"
        };
        let got = rules_with(&format!("{RULE}{extra}"), event)
            .iter()
            .any(|n| n == target);
        if got != *want {
            failures.push(format!("{extra}=> got {got}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn rules_fire_in_order_and_callback_can_stop() {
    let extra = "- rule: a\n  desc: d\n  condition: evt.type=openat\n  output: o\n  priority: INFO\n- rule: b\n  desc: d\n  condition: evt.type in (openat, connect)\n  output: o\n  priority: INFO\n- rule: c\n  desc: d\n  condition: evt.type=connect\n  output: o\n  priority: INFO\n";
    assert_eq!(rules_with(extra, OPEN), ["a", "b"]);
    assert_eq!(rules_with(extra, CONNECT), ["b", "c"]);
    let mut l = Loader::new();
    l.add_str("x.yaml", extra);
    let c = l.compile(&CompileOptions::default()).unwrap();
    let mut n = 0;
    let flow = c.ruleset.evaluate(&ev(OPEN), &mut |_| {
        n += 1;
        std::ops::ControlFlow::Break(())
    });
    assert_eq!(n, 1);
    assert!(flow.is_break());
}

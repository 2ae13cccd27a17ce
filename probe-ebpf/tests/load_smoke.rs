use kestrel_probe::*;
use std::time::{Duration, Instant};

#[test]
#[ignore = "needs root and eBPF"]
fn loads_and_sees_getppid() {
    let mut wanted = WantedSyscalls::new();
    wanted.insert_name("getppid").unwrap();
    let mut probe = Probe::load(&ProbeOptions {
        ignore_tgids: vec![],
        wanted,
        ..Default::default()
    })
    .unwrap();
    let me = std::process::id();
    let ppid = unsafe { libc::getppid() };
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut found = false;
    while Instant::now() < deadline && !found {
        probe.poll(Duration::from_millis(20)).unwrap();
        probe.drain(|ev| {
            if ev.tgid() == me && ev.syscall_name() == Some("getppid") {
                assert_eq!(ev.ret(), ppid as i64);
                found = true;
            }
        });
    }
    assert!(found);
    println!("{:?}", probe.drop_counts().unwrap());
}

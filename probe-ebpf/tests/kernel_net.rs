//! Real-kernel tests: socket, bind, listen, connect, accept with addresses read from the
//! kernel socket (IPv4, IPv6, AF_UNIX).
mod common;

use std::net::{SocketAddr, TcpListener};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixListener;

use common::*;
use kestrel_probe::event::{SockOpFixed, SocketFixed};
use kestrel_probe::{EventKind, RawEvent, SockAddr};

const NET: &[&str] = &["socket", "connect", "accept", "accept4", "bind", "listen"];

fn sockop(e: &RawEvent<'_>) -> SockOpFixed {
    *e.fixed::<SockOpFixed>().expect("sockop fixed part")
}

/// Child: socket(family, SOCK_STREAM) + connect(addr); reports fd, connect rc and the
/// local port from getsockname.
fn connect_child(addr: SocketAddr) -> Child {
    let (sa, len) = sockaddr(addr);
    spawn(move |r| unsafe {
        let family = if addr.is_ipv4() {
            libc::AF_INET
        } else {
            libc::AF_INET6
        };
        let fd = libc::socket(family, libc::SOCK_STREAM, 0);
        r.report(fd as i64);
        let rc = libc::connect(fd, &sa as *const _ as *const libc::sockaddr, len);
        r.report(rc as i64);
        let mut local: libc::sockaddr_storage = std::mem::zeroed();
        let mut l = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        libc::getsockname(fd, &mut local as *mut _ as *mut libc::sockaddr, &mut l);
        // sin_port and sin6_port are at the same offset
        let port = u16::from_be((*(&local as *const _ as *const libc::sockaddr_in)).sin_port);
        r.report(port as i64);
        0
    })
}

fn sockaddr(addr: SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: sockaddr_storage is plain data; we fill the variant matching the family.
    unsafe {
        let mut ss: libc::sockaddr_storage = std::mem::zeroed();
        match addr {
            SocketAddr::V4(a) => {
                let sin = &mut *(&mut ss as *mut _ as *mut libc::sockaddr_in);
                sin.sin_family = libc::AF_INET as u16;
                sin.sin_port = a.port().to_be();
                sin.sin_addr.s_addr = u32::from_ne_bytes(a.ip().octets());
                (ss, std::mem::size_of::<libc::sockaddr_in>() as u32)
            }
            SocketAddr::V6(a) => {
                let sin6 = &mut *(&mut ss as *mut _ as *mut libc::sockaddr_in6);
                sin6.sin6_family = libc::AF_INET6 as u16;
                sin6.sin6_port = a.port().to_be();
                sin6.sin6_addr.s6_addr = a.ip().octets();
                (ss, std::mem::size_of::<libc::sockaddr_in6>() as u32)
            }
        }
    }
}

fn tcp_round_trip(listen_on: &str) {
    let me = gettid();
    let mut probe = probe(NET, false, &[]);
    let listener = TcpListener::bind(listen_on).unwrap();
    let server = listener.local_addr().unwrap();
    let mut child = connect_child(server);
    let pid = child.pid as u32;
    child.go();
    let (stream, peer) = listener.accept().unwrap();
    let (status, res) = child.wait();
    assert_eq!(status, 0);
    assert_eq!(res[1], 0, "connect succeeded");
    let (cfd, cport) = (res[0], res[2] as u16);
    assert_eq!(peer.port(), cport);
    let client = SocketAddr::new(server.ip(), cport);
    let family = if server.is_ipv4() {
        libc::AF_INET
    } else {
        libc::AF_INET6
    } as u16;

    let evs = collect(
        &mut probe,
        |e| e.tgid() == pid || e.tid() == me,
        |k| k.len() >= 5,
    );
    let names: Vec<_> = evs
        .iter()
        .map(|e| e.view().syscall_name().unwrap())
        .collect();

    // server side, this thread: socket, bind, listen (TcpListener::bind), accept4
    let bind = find(&evs, |e| e.tid() == me && is_syscall(e, "bind"))
        .unwrap_or_else(|| panic!("bind in {names:?}"));
    assert_eq!(bind.ret(), 0);
    assert_eq!(
        bind.user_sockaddr().map(|a| match a {
            SockAddr::Inet(a) => SocketAddr::V4(a),
            SockAddr::Inet6(a) => SocketAddr::V6(a),
            other => panic!("{other:?}"),
        }),
        Some(listen_on.parse::<SocketAddr>().unwrap()),
        "user sockaddr of bind (port 0)"
    );
    assert_eq!(sockop(&bind).tuple.family, family);
    assert_eq!(
        bind.sock_tuple().unwrap().local(),
        Some(server),
        "kernel socket after bind has the real port"
    );

    let listen = find(&evs, |e| e.tid() == me && is_syscall(e, "listen")).expect("listen");
    assert_eq!(listen.ret(), 0);
    assert!(sockop(&listen).arg > 0, "backlog");
    assert_eq!(listen.sock_tuple().unwrap().local(), Some(server));
    assert_eq!(sockop(&listen).fd, listener.as_raw_fd());

    let accept = find(&evs, |e| e.tid() == me && is_syscall(e, "accept4")).expect("accept4");
    assert_eq!(accept.kind(), Some(EventKind::SockOp));
    assert_eq!(accept.ret(), stream.as_raw_fd() as i64);
    assert_eq!(sockop(&accept).fd, listener.as_raw_fd());
    assert_eq!(sockop(&accept).arg, libc::SOCK_CLOEXEC as u32);
    let t = accept.sock_tuple().unwrap();
    assert_eq!(
        (t.family, t.r#type, t.protocol),
        (family, libc::SOCK_STREAM as u16, libc::IPPROTO_TCP as u16)
    );
    assert_eq!((t.local(), t.remote()), (Some(server), Some(client)));

    // client side, the child
    let socket = find(&evs, |e| e.tgid() == pid && is_syscall(e, "socket")).expect("socket");
    let sf = socket.fixed::<SocketFixed>().unwrap();
    assert_eq!(
        (sf.domain, sf.r#type, sf.protocol),
        (family as u32, libc::SOCK_STREAM as u32, 0)
    );
    assert_eq!(socket.ret(), cfd);

    let connect = find(&evs, |e| e.tgid() == pid && is_syscall(e, "connect")).expect("connect");
    assert_eq!(connect.ret(), 0);
    assert_eq!(sockop(&connect).fd as i64, cfd);
    let expected_user = match server {
        SocketAddr::V4(a) => SockAddr::Inet(a),
        SocketAddr::V6(a) => SockAddr::Inet6(a),
    };
    assert_eq!(connect.user_sockaddr(), Some(expected_user));
    let t = connect.sock_tuple().unwrap();
    assert_eq!((t.family, t.protocol), (family, libc::IPPROTO_TCP as u16));
    assert_eq!((t.local(), t.remote()), (Some(client), Some(server)));
    assert_eq!(connect.local_unix_path(), None);
}

#[test]
#[ignore = "needs root and eBPF"]
fn tcp_over_ipv4_reports_both_ends_from_the_kernel_socket() {
    tcp_round_trip("127.0.0.1:0");
}

#[test]
#[ignore = "needs root and eBPF"]
fn tcp_over_ipv6_reports_both_ends_from_the_kernel_socket() {
    tcp_round_trip("[::1]:0");
}

#[test]
#[ignore = "needs root and eBPF"]
fn unix_socket_paths_from_the_kernel_socket() {
    let me = gettid();
    let dir = TempDir::new("unix");
    let path = dir.join("kestrel.sock");
    let path_bytes = path.as_os_str().as_encoded_bytes().to_vec();
    let mut probe = probe(NET, false, &[]);
    let listener = UnixListener::bind(&path).unwrap();

    let mut sun: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    sun.sun_family = libc::AF_UNIX as u16;
    for (d, s) in sun.sun_path.iter_mut().zip(&path_bytes) {
        *d = *s as libc::c_char;
    }
    let len = (2 + path_bytes.len() + 1) as libc::socklen_t;
    let mut child = spawn(move |r| unsafe {
        let fd = libc::socket(libc::AF_UNIX, libc::SOCK_STREAM, 0);
        r.report(fd as i64);
        r.report(libc::connect(fd, &sun as *const _ as *const libc::sockaddr, len) as i64);
        0
    });
    let pid = child.pid as u32;
    child.go();
    let (stream, _) = listener.accept().unwrap();
    let (status, res) = child.wait();
    assert_eq!((status, res[1]), (0, 0));

    let evs = collect(
        &mut probe,
        |e| e.tgid() == pid || e.tid() == me,
        |k| k.len() >= 5,
    );

    let bind = find(&evs, |e| e.tid() == me && is_syscall(e, "bind")).expect("bind");
    assert_eq!(bind.user_sockaddr(), Some(SockAddr::Unix(&path_bytes)));
    assert_eq!(bind.local_unix_path(), Some(&path_bytes[..]));
    assert_eq!(sockop(&bind).tuple.family, libc::AF_UNIX as u16);

    let connect = find(&evs, |e| e.tgid() == pid && is_syscall(e, "connect")).expect("connect");
    assert_eq!(connect.ret(), 0);
    assert_eq!(connect.user_sockaddr(), Some(SockAddr::Unix(&path_bytes)));
    assert_eq!(
        connect.peer_unix_path(),
        Some(&path_bytes[..]),
        "peer of the client is the server socket"
    );
    assert_eq!(connect.local_unix_path(), None, "the client is not bound");
    let t = connect.sock_tuple().unwrap();
    assert_eq!(
        (t.family, t.r#type),
        (libc::AF_UNIX as u16, libc::SOCK_STREAM as u16)
    );
    assert_eq!(t.local(), None);

    let accept = find(&evs, |e| e.tid() == me && is_syscall(e, "accept4")).expect("accept4");
    assert_eq!(accept.ret(), stream.as_raw_fd() as i64);
    assert_eq!(
        accept.local_unix_path(),
        Some(&path_bytes[..]),
        "accepted socket carries the listener's path"
    );
}

//! The field table. One line per field:
//! `Variant "falco.name" Type Arg [dot|list]: "description";` where Arg is `N` (no argument),
//! `I`/`Io` (index, required/optional), `K`/`Ko` (key), `IK`/`IKo` (index or key) and `dot`
//! allows the argument after a dot (`evt.arg.flags`); `list` marks a list field (`fd.types`).

use super::{ArgKind, FieldInfo, FieldType};

macro_rules! fields {
    ($( $var:ident $name:literal $ty:ident $arg:ident $($dot:ident)? : $desc:literal ;)*) => {
        /// A Falco field. See [`Field::info`] for its name, type and argument.
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
        pub enum Field { $( #[doc = $desc] $var, )* }

        impl Field {
            /// Every field of the catalogue, in catalogue order.
            pub const ALL: &'static [Field] = &[ $( Field::$var, )* ];

            /// The static description of this field.
            pub fn info(self) -> &'static FieldInfo {
                &INFOS[self as usize]
            }
        }

        static INFOS: &[FieldInfo] = &[ $( FieldInfo {
            name: $name,
            ty: FieldType::$ty,
            arg: fields!(@arg $arg),
            dotted_arg: fields!(@dot $($dot)?),
            list: fields!(@list $($dot)?),
            desc: $desc,
        }, )* ];
    };
    (@arg N) => { ArgKind::None };
    (@arg I) => { ArgKind::Index { required: true } };
    (@arg Io) => { ArgKind::Index { required: false } };
    (@arg K) => { ArgKind::Key { required: true } };
    (@arg Ko) => { ArgKind::Key { required: false } };
    (@arg IK) => { ArgKind::IndexOrKey { required: true } };
    (@arg IKo) => { ArgKind::IndexOrKey { required: false } };
    (@dot dot) => { true };
    (@dot list) => { false };
    (@dot) => { false };
    (@list list) => { true };
    (@list dot) => { false };
    (@list) => { false };
}

fields! {
    // ---- evt.*
    EvtNum "evt.num" U64 N: "event number";
    EvtTime "evt.time" AbsTime N: "event timestamp, printed as HH:MM:SS.nnnnnnnnn (local time)";
    EvtTimeS "evt.time.s" AbsTime N: "event timestamp, printed as HH:MM:SS";
    EvtTimeIso8601 "evt.time.iso8601" AbsTime N: "event timestamp in ISO 8601 with nanoseconds and time zone";
    EvtDatetime "evt.datetime" AbsTime N: "event timestamp with the date, printed as YYYY-MM-DD HH:MM:SS.nnnnnnnnn";
    EvtDatetimeS "evt.datetime.s" AbsTime N: "event timestamp with the date, printed as YYYY-MM-DD HH:MM:SS";
    EvtRawtime "evt.rawtime" AbsTime N: "absolute event timestamp, nanoseconds since the epoch";
    EvtRawtimeS "evt.rawtime.s" U64 N: "integer part of the event timestamp (seconds since the epoch)";
    EvtRawtimeNs "evt.rawtime.ns" U64 N: "fractional part of the event timestamp (nanoseconds)";
    EvtReltime "evt.reltime" RelTime N: "time since the capture started";
    EvtLatency "evt.latency" RelTime N: "delta between an exit event and its enter event";
    EvtDeltatime "evt.deltatime" RelTime N: "delta between this event and the previous one";
    EvtDir "evt.dir" String N: "event direction: `>` enter, `<` exit";
    EvtType "evt.type" String N: "event name (the syscall name, or a Falco event such as procexit)";
    EvtTypeIs "evt.type.is" Bool I: "true if the event type is the one given as argument";
    EvtSyscallType "syscall.type" String N: "for system call events, the name of the system call";
    EvtCategory "evt.category" String N: "event category: file, net, process, ipc, memory, signal...";
    EvtCpu "evt.cpu" U64 N: "number of the CPU where the event happened";
    EvtArgs "evt.args" String N: "all the event arguments, as one string";
    EvtArg "evt.arg" String IK dot: "one event argument as a string, by name (evt.arg.fd) or position (evt.arg[0])";
    EvtRawarg "evt.rawarg" I64 K dot: "one event argument as its raw number, by name (evt.rawarg.flags)";
    EvtInfo "evt.info" String N: "for most events, the same as evt.args";
    EvtBuffer "evt.buffer" String N: "the binary data buffer of read/write/send/recv-like events";
    EvtBuflen "evt.buflen" U64 N: "length of the binary data buffer";
    EvtRes "evt.res" String N: "event return value as a string: SUCCESS or an errno name such as ENOENT";
    EvtRawres "evt.rawres" I64 N: "event return value as a number (negative errno on failure)";
    EvtFailed "evt.failed" Bool N: "true for events that returned an error";
    EvtIsIo "evt.is_io" Bool N: "true for events that read or write to files or sockets";
    EvtIsIoRead "evt.is_io_read" Bool N: "true for events that read from files or sockets";
    EvtIsIoWrite "evt.is_io_write" Bool N: "true for events that write to files or sockets";
    EvtIoDir "evt.io_dir" String N: "r for events that read, w for events that write";
    EvtIsWait "evt.is_wait" Bool N: "true for events that make the thread wait";
    EvtWaitLatency "evt.wait_latency" RelTime N: "time spent waiting for events that make the thread wait";
    EvtIsSyslog "evt.is_syslog" Bool N: "true for writes to /dev/log";
    EvtCount "evt.count" U64 N: "1 for every event (for aggregations)";
    EvtCountError "evt.count.error" U64 N: "1 for events that returned an error";
    EvtCountErrorFile "evt.count.error.file" U64 N: "1 for file events that returned an error";
    EvtCountErrorNet "evt.count.error.net" U64 N: "1 for network events that returned an error";
    EvtCountErrorMemory "evt.count.error.memory" U64 N: "1 for memory events that returned an error";
    EvtCountErrorOther "evt.count.error.other" U64 N: "1 for other events that returned an error";
    EvtCountExit "evt.count.exit" U64 N: "1 for exit events";
    EvtAbspath "evt.abspath" String N: "absolute path computed from dirfd and name for *at syscalls";
    EvtAbspathSrc "evt.abspath.src" String N: "source absolute path for renameat/linkat/symlinkat";
    EvtAbspathDst "evt.abspath.dst" String N: "destination absolute path for renameat/linkat/symlinkat";
    EvtIsOpenRead "evt.is_open_read" Bool N: "true for open/openat/openat2/open_by_handle_at with read access";
    EvtIsOpenWrite "evt.is_open_write" Bool N: "true for open/openat/openat2/open_by_handle_at with write access";
    EvtIsOpenExec "evt.is_open_exec" Bool N: "true for open/openat/openat2/open_by_handle_at/creat that create an executable file";
    EvtIsOpenCreate "evt.is_open_create" Bool N: "true for open/openat/openat2/open_by_handle_at with O_CREAT that created the file";
    EvtHostname "evt.hostname" String N: "the hostname of the machine that generated the event";
    EvtSource "evt.source" String N: "the event source (syscall)";
    EvtPluginname "evt.pluginname" String N: "name of the plugin that generated the event";
    EvtAsynctype "evt.asynctype" String N: "type of an async event";
    // ---- proc.*
    ProcPid "proc.pid" I64 N: "id of the process";
    ProcExe "proc.exe" String N: "first command-line argument (argv[0]) of the process";
    ProcName "proc.name" String N: "name of the executable (truncated to 16 chars by the kernel)";
    ProcArgs "proc.args" String N: "command-line arguments, without argv[0], space separated";
    ProcEnv "proc.env" String Ko: "environment of the process, or the value of one variable (proc.env[HOME])";
    ProcCmdline "proc.cmdline" String N: "full command line: proc.name followed by proc.args";
    ProcExeline "proc.exeline" String N: "full command line with proc.exe instead of proc.name";
    ProcCwd "proc.cwd" String N: "current working directory of the process";
    ProcNthreads "proc.nthreads" U64 N: "number of threads of the process";
    ProcNchilds "proc.nchilds" U64 N: "number of child threads of the process";
    ProcPpid "proc.ppid" I64 N: "id of the parent process";
    ProcPname "proc.pname" String N: "name of the parent process";
    ProcPcmdline "proc.pcmdline" String N: "full command line of the parent process";
    ProcApid "proc.apid" I64 Io: "pid of an ancestor: proc.apid[1] parent, [2] grandparent...; every ancestor without index";
    ProcAname "proc.aname" String Io: "name of an ancestor: proc.aname[1] parent, [2] grandparent...; every ancestor without index";
    ProcLoginshellid "proc.loginshellid" I64 N: "pid of the oldest shell among the ancestors";
    ProcDuration "proc.duration" RelTime N: "nanoseconds since the process started";
    ProcPpidDuration "proc.ppid.duration" RelTime N: "nanoseconds since the parent process started";
    ProcPidTs "proc.pid.ts" AbsTime N: "start time of the process";
    ProcPpidTs "proc.ppid.ts" AbsTime N: "start time of the parent process";
    ProcFdopencount "proc.fdopencount" U64 N: "number of open file descriptors of the process";
    ProcFdlimit "proc.fdlimit" I64 N: "maximum number of file descriptors the process may open";
    ProcFdusage "proc.fdusage" U64 N: "ratio of open file descriptors to the limit, in percent";
    ProcVmsize "proc.vmsize" U64 N: "total virtual memory of the process, in KiB";
    ProcVmrss "proc.vmrss" U64 N: "resident memory of the process, in KiB";
    ProcVmswap "proc.vmswap" U64 N: "swapped memory of the process, in KiB";
    ProcPfmajor "proc.pfmajor" U64 N: "major page faults since the process started";
    ProcPfminor "proc.pfminor" U64 N: "minor page faults since the process started";
    ProcTty "proc.tty" U64 N: "controlling terminal of the process, 0 for none";
    ProcSid "proc.sid" I64 N: "session id of the process";
    ProcSname "proc.sname" String N: "name of the session leader";
    ProcSidExe "proc.sid.exe" String N: "argv[0] of the session leader";
    ProcSidExepath "proc.sid.exepath" String N: "full executable path of the session leader";
    ProcVpgid "proc.vpgid" I64 N: "process group id as seen from the process' pid namespace";
    ProcVpgidName "proc.vpgid.name" String N: "name of the process group leader (vpgid)";
    ProcVpgidExe "proc.vpgid.exe" String N: "argv[0] of the process group leader (vpgid)";
    ProcVpgidExepath "proc.vpgid.exepath" String N: "executable path of the process group leader (vpgid)";
    ProcPgid "proc.pgid" I64 N: "process group id as seen from the host";
    ProcPgidName "proc.pgid.name" String N: "name of the process group leader (pgid)";
    ProcPgidExe "proc.pgid.exe" String N: "argv[0] of the process group leader (pgid)";
    ProcPgidExepath "proc.pgid.exepath" String N: "executable path of the process group leader (pgid)";
    ProcVpid "proc.vpid" I64 N: "id of the process as seen from its pid namespace";
    ProcPvpid "proc.pvpid" I64 N: "id of the parent process as seen from its pid namespace";
    ProcIsContainerHealthcheck "proc.is_container_healthcheck" Bool N: "true if the process is running a container health check";
    ProcIsContainerLivenessProbe "proc.is_container_liveness_probe" Bool N: "true if the process is running a Kubernetes liveness probe";
    ProcIsContainerReadinessProbe "proc.is_container_readiness_probe" Bool N: "true if the process is running a Kubernetes readiness probe";
    ProcIsExeWritable "proc.is_exe_writable" Bool N: "true if the executable file is writable by the process' user";
    ProcIsExeUpperLayer "proc.is_exe_upper_layer" Bool N: "true if the executable lives in the upper (writable) layer of an overlayfs";
    ProcIsExeFromMemfd "proc.is_exe_from_memfd" Bool N: "true if the executable is a memfd (fileless execution)";
    ProcIsSidLeader "proc.is_sid_leader" Bool N: "true if the process is its session leader";
    ProcIsVpgidLeader "proc.is_vpgid_leader" Bool N: "true if the process is its process group leader (vpgid)";
    ProcIsPgidLeader "proc.is_pgid_leader" Bool N: "true if the process is its process group leader (pgid)";
    ProcExeIno "proc.exe_ino" U64 N: "inode number of the executable";
    ProcExeInoCtime "proc.exe_ino.ctime" AbsTime N: "last status change time of the executable";
    ProcExeInoMtime "proc.exe_ino.mtime" AbsTime N: "last modification time of the executable";
    ProcExeInoCtimeDurationProcStart "proc.exe_ino.ctime_duration_proc_start" RelTime N: "nanoseconds between the executable's ctime and the process start";
    ProcExeInoCtimeDurationPidnsStart "proc.exe_ino.ctime_duration_pidns_start" RelTime N: "nanoseconds between the pid namespace start and the executable's ctime";
    ProcPidnsInitStartTs "proc.pidns_init_start_ts" AbsTime N: "start time of the pid namespace's init process";
    ProcExepath "proc.exepath" String N: "full path of the executable";
    ProcPexe "proc.pexe" String N: "argv[0] of the parent process";
    ProcPexepath "proc.pexepath" String N: "full executable path of the parent process";
    ProcAexe "proc.aexe" String Io: "argv[0] of an ancestor: proc.aexe[1] parent...; every ancestor without index";
    ProcAexepath "proc.aexepath" String Io: "executable path of an ancestor: proc.aexepath[1] parent...; every ancestor without index";
    ProcAcmdline "proc.acmdline" String Io: "command line of an ancestor: proc.acmdline[1] parent...; every ancestor without index";
    ProcCmdnargs "proc.cmdnargs" U64 N: "number of command-line arguments";
    ProcCmdlenargs "proc.cmdlenargs" U64 N: "total length of the command-line arguments, without spaces";
    ProcStdinType "proc.stdin.type" String N: "type of file descriptor 0";
    ProcStdoutType "proc.stdout.type" String N: "type of file descriptor 1";
    ProcStderrType "proc.stderr.type" String N: "type of file descriptor 2";
    ProcStdinName "proc.stdin.name" String N: "name of file descriptor 0";
    ProcStdoutName "proc.stdout.name" String N: "name of file descriptor 1";
    ProcStderrName "proc.stderr.name" String N: "name of file descriptor 2";
    // ---- thread.*
    ThreadTid "thread.tid" I64 N: "id of the thread";
    ThreadIsmain "thread.ismain" Bool N: "true if the thread is the main thread of its process";
    ThreadVtid "thread.vtid" I64 N: "id of the thread as seen from its pid namespace";
    ThreadExectime "thread.exectime" RelTime N: "CPU time spent by the last scheduled thread";
    ThreadTotexectime "thread.totexectime" RelTime N: "total CPU time spent by the thread";
    ThreadCgroups "thread.cgroups" String N: "all the cgroups of the thread";
    ThreadCgroup "thread.cgroup" String K: "the cgroup of the thread for one subsystem (thread.cgroup[cpuacct])";
    ThreadNametid "thread.nametid" String N: "proc.name and thread.tid joined by a colon";
    ThreadCapPermitted "thread.cap_permitted" String N: "permitted capabilities, space separated (CAP_SYS_ADMIN CAP_NET_RAW...)";
    ThreadCapInheritable "thread.cap_inheritable" String N: "inheritable capabilities, space separated";
    ThreadCapEffective "thread.cap_effective" String N: "effective capabilities, space separated";
    // ---- user.* / group.*
    UserUid "user.uid" U64 N: "user id";
    UserName "user.name" String N: "user name";
    UserHomedir "user.homedir" String N: "home directory of the user";
    UserShell "user.shell" String N: "shell of the user";
    UserLoginuid "user.loginuid" I64 N: "audit user id (auid), -1 if unset";
    UserLoginname "user.loginname" String N: "audit user name (auid)";
    GroupGid "group.gid" U64 N: "group id";
    GroupName "group.name" String N: "group name";
    // ---- fd.*
    FdNum "fd.num" I64 N: "file descriptor number";
    FdType "fd.type" String N: "type of file descriptor: file, directory, ipv4, ipv6, unix, pipe, event, signalfd, eventpoll, inotify, timerfd, netlink, memfd...";
    FdTypechar "fd.typechar" String N: "type of file descriptor as one character: f, 4, 6, u, p, e, s, l, i, t, n, b, m...";
    FdName "fd.name" String N: "full name of the file descriptor: absolute path for files, connection tuple for sockets";
    FdUid "fd.uid" String N: "unique identifier of the file descriptor (pid and fd number)";
    FdContainername "fd.containername" String N: "container id and fd.name joined by a colon";
    FdContainerdirectory "fd.containerdirectory" String N: "container id and fd.directory joined by a colon";
    FdProto "fd.proto" String N: "for sockets, the protocol name for the port";
    FdCproto "fd.cproto" String N: "for TCP/UDP sockets, the protocol name of the client port";
    FdSproto "fd.sproto" String N: "for TCP/UDP sockets, the protocol name of the server port";
    FdLproto "fd.lproto" String N: "for TCP/UDP sockets, the protocol name of the local port";
    FdRproto "fd.rproto" String N: "for TCP/UDP sockets, the protocol name of the remote port";
    FdIp "fd.ip" Ip N: "IP address (client or server: matches either)";
    FdCip "fd.cip" Ip N: "client IP address";
    FdSip "fd.sip" Ip N: "server IP address";
    FdLip "fd.lip" Ip N: "local IP address";
    FdRip "fd.rip" Ip N: "remote IP address";
    FdPort "fd.port" U64 N: "TCP/UDP port (client or server: matches either)";
    FdCport "fd.cport" U64 N: "client TCP/UDP port";
    FdSport "fd.sport" U64 N: "server TCP/UDP port";
    FdLport "fd.lport" U64 N: "local TCP/UDP port";
    FdRport "fd.rport" U64 N: "remote TCP/UDP port";
    FdL4proto "fd.l4proto" String N: "IP protocol of a socket: tcp, udp, icmp or raw";
    FdSockfamily "fd.sockfamily" String N: "socket family: ip or unix";
    FdIsServer "fd.is_server" Bool N: "true if the process owning the socket is the server";
    FdNet "fd.net" IpNet N: "IP network (client or server: matches either)";
    FdCnet "fd.cnet" IpNet N: "client IP network";
    FdSnet "fd.snet" IpNet N: "server IP network";
    FdLnet "fd.lnet" IpNet N: "local IP network";
    FdRnet "fd.rnet" IpNet N: "remote IP network";
    FdConnected "fd.connected" Bool N: "for TCP/UDP sockets, true if the socket is connected";
    FdNameChanged "fd.name_changed" Bool N: "true when the event changed the fd name (connect, accept, sendto...)";
    FdCipName "fd.cip.name" String N: "domain name associated with the client IP address";
    FdSipName "fd.sip.name" String N: "domain name associated with the server IP address";
    FdLipName "fd.lip.name" String N: "domain name associated with the local IP address";
    FdRipName "fd.rip.name" String N: "domain name associated with the remote IP address";
    FdDev "fd.dev" U64 N: "device number (major/minor) containing the file";
    FdDevMajor "fd.dev.major" U64 N: "major device number containing the file";
    FdDevMinor "fd.dev.minor" U64 N: "minor device number containing the file";
    FdIno "fd.ino" U64 N: "inode number of the file";
    FdNameraw "fd.nameraw" String N: "name of the file descriptor as passed to the syscall, not normalized";
    FdDirectory "fd.directory" String N: "directory of the file (for files)";
    FdFilename "fd.filename" String N: "file name without the directory (for files)";
    FdTypes "fd.types" String Io list: "types of the file descriptors the process has open (a list)";
    // ---- fs.path.*
    FsPathName "fs.path.name" String N: "path of the file system object for syscalls that act on a path";
    FsPathNameraw "fs.path.nameraw" String N: "path of the file system object as passed to the syscall";
    FsPathSource "fs.path.source" String N: "source path for syscalls with a source and a target (rename, link...)";
    FsPathSourceraw "fs.path.sourceraw" String N: "source path as passed to the syscall";
    FsPathTarget "fs.path.target" String N: "target path for syscalls with a source and a target (rename, link...)";
    FsPathTargetraw "fs.path.targetraw" String N: "target path as passed to the syscall";
    // ---- container.*
    ContainerId "container.id" String N: "container id (12 chars), `host` for host processes";
    ContainerFullId "container.full_id" String N: "full container id (64 chars), `host` for host processes";
    ContainerName "container.name" String N: "container name, `host` for host processes";
    ContainerImage "container.image" String N: "container image name (repository:tag)";
    ContainerImageId "container.image.id" String N: "container image id";
    ContainerImageRepository "container.image.repository" String N: "container image repository";
    ContainerImageTag "container.image.tag" String N: "container image tag";
    ContainerImageDigest "container.image.digest" String N: "container image registry digest";
    ContainerType "container.type" String N: "container runtime: docker, containerd, cri-o, podman...";
    ContainerPrivileged "container.privileged" Bool N: "true for containers running as privileged";
    ContainerMounts "container.mounts" String N: "all the mounts, each source:dest:mode:rdwr:propagation, comma separated";
    ContainerMount "container.mount" String IK: "one mount by index (container.mount[0]) or by source path (container.mount[/etc])";
    ContainerMountSource "container.mount.source" String IK: "source of one mount, by index or by destination path";
    ContainerMountDest "container.mount.dest" String IK: "destination of one mount, by index or by source path";
    ContainerMountMode "container.mount.mode" String IK: "mode of one mount, by index or by source path";
    ContainerMountRdwr "container.mount.rdwr" String IK: "read/write flag of one mount, by index or by source path";
    ContainerMountPropagation "container.mount.propagation" String IK: "propagation of one mount, by index or by source path";
    ContainerHealthcheck "container.healthcheck" String N: "health check command of the container, `NONE` if none";
    ContainerLivenessProbe "container.liveness_probe" String N: "liveness probe command of the container";
    ContainerReadinessProbe "container.readiness_probe" String N: "readiness probe command of the container";
    ContainerStartTs "container.start_ts" AbsTime N: "start time of the container";
    ContainerDuration "container.duration" RelTime N: "nanoseconds since the container started";
    ContainerIp "container.ip" String N: "IP address of the container";
    ContainerCniJson "container.cni.json" String N: "CNI result of the container, as JSON";
    ContainerHostPid "container.host_pid" Bool N: "true if the container shares the host's pid namespace";
    ContainerHostNetwork "container.host_network" Bool N: "true if the container shares the host's network namespace";
    ContainerHostIpc "container.host_ipc" Bool N: "true if the container shares the host's IPC namespace";
    ContainerLabel "container.label" String K dot: "one container label (container.label[key])";
    ContainerLabels "container.labels" String N: "all container labels, key:value comma separated";
    // ---- k8s.*
    K8sNsName "k8s.ns.name" String N: "Kubernetes namespace name";
    K8sNsId "k8s.ns.id" String N: "Kubernetes namespace id";
    K8sNsLabel "k8s.ns.label" String K dot: "one Kubernetes namespace label (k8s.ns.label[key])";
    K8sNsLabels "k8s.ns.labels" String N: "Kubernetes namespace labels";
    K8sPodName "k8s.pod.name" String N: "Kubernetes pod name";
    K8sPodId "k8s.pod.id" String N: "Kubernetes pod UID (legacy name of k8s.pod.uid)";
    K8sPodUid "k8s.pod.uid" String N: "Kubernetes pod UID";
    K8sPodSandboxId "k8s.pod.sandbox_id" String N: "sandbox id of the pod (12 chars)";
    K8sPodFullSandboxId "k8s.pod.full_sandbox_id" String N: "full sandbox id of the pod";
    K8sPodLabel "k8s.pod.label" String K dot: "one Kubernetes pod label (k8s.pod.label[key])";
    K8sPodLabels "k8s.pod.labels" String N: "Kubernetes pod labels, key:value comma separated";
    K8sPodIp "k8s.pod.ip" String N: "Kubernetes pod IP";
    K8sPodCniJson "k8s.pod.cni.json" String N: "CNI result of the pod, as JSON";
    K8sRcName "k8s.rc.name" String N: "Kubernetes replication controller name";
    K8sRcId "k8s.rc.id" String N: "Kubernetes replication controller id";
    K8sRcLabel "k8s.rc.label" String K dot: "one Kubernetes replication controller label";
    K8sRcLabels "k8s.rc.labels" String N: "Kubernetes replication controller labels";
    K8sSvcName "k8s.svc.name" String N: "Kubernetes service name";
    K8sSvcId "k8s.svc.id" String N: "Kubernetes service id";
    K8sSvcLabel "k8s.svc.label" String K dot: "one Kubernetes service label";
    K8sSvcLabels "k8s.svc.labels" String N: "Kubernetes service labels";
    K8sRsName "k8s.rs.name" String N: "Kubernetes replica set name";
    K8sRsId "k8s.rs.id" String N: "Kubernetes replica set id";
    K8sRsLabel "k8s.rs.label" String K dot: "one Kubernetes replica set label";
    K8sRsLabels "k8s.rs.labels" String N: "Kubernetes replica set labels";
    K8sDeploymentName "k8s.deployment.name" String N: "Kubernetes deployment name";
    K8sDeploymentId "k8s.deployment.id" String N: "Kubernetes deployment id";
    K8sDeploymentLabel "k8s.deployment.label" String K dot: "one Kubernetes deployment label";
    K8sDeploymentLabels "k8s.deployment.labels" String N: "Kubernetes deployment labels";
}

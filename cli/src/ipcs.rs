//! `ipcshim ipcs`: util-linux's ipcs (2.38) for a namespace, column for
//! column, from the rows the library's walk gives (`Namespace::objects`);
//! then a section of POSIX queues, which util-linux's ipcs does not show.

use crate::cli::IpcsArgs;
use crate::names::{self, group_column, long_time, short_time, size, user_column, Unit};
use crate::Failure;
use clap::ArgMatches;
use ipcshim::process::inspect::{Detail, Handle, Kind, Object};
use std::fmt::Write;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Default,
    Limits,
    Status,
    Creator,
    Time,
    Pid,
}

/// The option given last among `choices` (as util-linux's last one wins).
fn last_given<T: Copy>(matches: &ArgMatches, choices: &[(&str, T)]) -> Option<T> {
    choices
        .iter()
        .filter(|(id, _)| matches.get_flag(id))
        .filter_map(|&(id, value)| matches.indices_of(id)?.max().map(|at| (at, value)))
        .max_by_key(|&(at, _)| at)
        .map(|(_, value)| value)
}

pub fn ipcs(args: &IpcsArgs, matches: &ArgMatches) -> Result<u8, Failure> {
    use Format::*;
    let format = last_given(
        matches,
        &[("limits", Limits), ("summary", Status), ("creator", Creator), ("time", Time), ("pid", Pid)],
    )
    .unwrap_or(Default);
    let unit = last_given(matches, &[("human", Unit::Human), ("bytes", Unit::Bytes)]).unwrap_or(Unit::Default);
    let (mut msg, mut shm, mut sem, mut mq) = (args.queues, args.shmems, args.semaphores, args.mq);
    if args.all {
        (msg, shm, sem, mq) = (true, true, true, true);
    }
    let id = match &args.id {
        Some(text) => {
            Some(text.parse::<i32>().map_err(|_| Failure::new(format!("failed to parse id argument: '{text}'")))?)
        }
        None => None,
    };
    if id.is_some() && (msg as u8 + shm as u8 + sem as u8 != 1 || mq) {
        return Err(Failure::new("when using an ID, a single resource must be specified"));
    }
    let target = crate::place::resolve(&args.place)?;
    let ns = crate::place::open(&target)?;
    let objects =
        ns.objects().map_err(|e| Failure::new(format!("{}: cannot read it: {e:?}", target.path.display())))?;
    drop(ns);
    let of = |kind: Kind| objects.iter().filter(move |o| o.kind() == kind);
    let mut out = String::new();
    if let Some(id) = id {
        let kind = if msg {
            Kind::Msg
        } else if shm {
            Kind::Shm
        } else {
            Kind::Sem
        };
        match of(kind).find(|o| o.handle == Handle::Id(id)) {
            Some(object) => details(&mut out, object, unit),
            None => eprintln!("ipcshim: id {id} not found"),
        }
    } else {
        if !(msg || shm || sem || mq) {
            (msg, shm, sem, mq) = (true, true, true, true);
        }
        out.push('\n');
        let sections: [(bool, Kind); 4] = [(msg, Kind::Msg), (shm, Kind::Shm), (sem, Kind::Sem), (mq, Kind::Mq)];
        // Linux keeps no times for POSIX queues: --time shows no section of them.
        let shown = |&(wanted, kind): &(bool, Kind)| wanted && !(kind == Kind::Mq && format == Format::Time);
        for (_, kind) in sections.into_iter().filter(shown) {
            let rows: Vec<&Object> = of(kind).collect();
            section(&mut out, kind, format, unit, &rows);
            out.push('\n');
        }
    }
    print!("{out}");
    Ok(0)
}

fn section(out: &mut String, kind: Kind, format: Format, unit: Unit, rows: &[&Object]) {
    match (kind, format) {
        (_, Format::Limits) => limits(out, kind, unit),
        (_, Format::Status) => status(out, kind, unit, rows),
        (Kind::Msg, _) => msg_section(out, format, unit, rows),
        (Kind::Shm, _) => shm_section(out, format, unit, rows),
        (Kind::Sem, _) => sem_section(out, format, rows),
        (Kind::Mq, _) => mq_section(out, format, unit, rows),
    }
}

/// `%#o`: octal with a leading 0 (just "0" for zero).
fn alt_octal(mode: u32) -> String {
    if mode == 0 {
        "0".to_owned()
    } else {
        format!("0{mode:o}")
    }
}

/// The id of a System V row.
fn id_of(object: &Object) -> i32 {
    match object.handle {
        Handle::Id(id) => id,
        Handle::Name(_) => -1,
    }
}

/// ipc_print_perms: id, permission bits, creator and owner.
fn perms_row(out: &mut String, id: &str, object: &Object) {
    let _ = writeln!(
        out,
        "{id} {:<10o} {} {} {} {}",
        object.mode & 0o777,
        user_column(object.cuid, false),
        group_column(object.cgid),
        user_column(object.uid, false),
        group_column(object.gid)
    );
}

fn creator_header(out: &mut String, first: &str) {
    let _ = writeln!(out, "{first:<10} {:<10} {:<10} {:<10} {:<10} {:<10}", "perms", "cuid", "cgid", "uid", "gid");
}

fn msg_section(out: &mut String, format: Format, unit: Unit, rows: &[&Object]) {
    match format {
        Format::Creator => {
            out.push_str("------ Message Queues Creators/Owners --------\n");
            creator_header(out, "msqid");
        }
        Format::Time => {
            out.push_str("------ Message Queues Send/Recv/Change Times --------\n");
            let _ = writeln!(out, "{:<8} {:<10} {:<20} {:<20} {:<20}", "msqid", "owner", "send", "recv", "change");
        }
        Format::Pid => {
            out.push_str("------ Message Queues PIDs --------\n");
            let _ = writeln!(out, "{:<10} {:<10} {:<10} {:<10}", "msqid", "owner", "lspid", "lrpid");
        }
        _ => {
            out.push_str("------ Message Queues --------\n");
            let bytes = if unit == Unit::Human { "size" } else { "used-bytes" };
            let _ = writeln!(
                out,
                "{:<10} {:<10} {:<10} {:<10} {bytes:<12} {:<12}",
                "key", "msqid", "owner", "perms", "messages"
            );
        }
    }
    for object in rows {
        let Detail::Msg {
            bytes, messages, last_send_pid, last_receive_pid, send_time, receive_time, change_time, ..
        } = object.detail
        else {
            continue;
        };
        let id = id_of(object);
        match format {
            Format::Creator => perms_row(out, &format!("{id:<10}"), object),
            Format::Time => {
                let _ = writeln!(
                    out,
                    "{id:<8} {} {:<20} {:<20} {:<20}",
                    user_column(object.uid, true),
                    short_time(send_time),
                    short_time(receive_time),
                    short_time(change_time)
                );
            }
            Format::Pid => {
                let _ = writeln!(
                    out,
                    "{id:<8} {}  {last_send_pid:>5}     {last_receive_pid:>5}",
                    user_column(object.uid, true)
                );
            }
            _ => {
                let used = used_bytes(unit, bytes);
                let _ = writeln!(
                    out,
                    "0x{:08x} {id:<10} {} {:<10o} {used} {messages:<12}",
                    object.key as u32,
                    user_column(object.uid, true),
                    object.mode & 0o777
                );
            }
        }
    }
}

fn shm_section(out: &mut String, format: Format, unit: Unit, rows: &[&Object]) {
    match format {
        Format::Creator => {
            out.push_str("------ Shared Memory Segment Creators/Owners --------\n");
            creator_header(out, "shmid");
        }
        Format::Time => {
            out.push_str("------ Shared Memory Attach/Detach/Change Times --------\n");
            let _ = writeln!(
                out,
                "{:<10} {:<10} {:<20} {:<20} {:<20}",
                "shmid", "owner", "attached", "detached", "changed"
            );
        }
        Format::Pid => {
            out.push_str("------ Shared Memory Creator/Last-op PIDs --------\n");
            let _ = writeln!(out, "{:<10} {:<10} {:<10} {:<10}", "shmid", "owner", "cpid", "lpid");
        }
        _ => {
            out.push_str("------ Shared Memory Segments --------\n");
            let bytes = if unit == Unit::Human { "size" } else { "bytes" };
            let _ = writeln!(
                out,
                "{:<10} {:<10} {:<10} {:<10} {bytes:<10} {:<10} {:<12}",
                "key", "shmid", "owner", "perms", "nattch", "status"
            );
        }
    }
    for object in rows {
        let Detail::Shm { size: bytes, attached, creator_pid, last_pid, attach_time, detach_time, change_time } =
            object.detail
        else {
            continue;
        };
        let id = id_of(object);
        match format {
            Format::Creator => perms_row(out, &format!("{id:<10}"), object),
            Format::Time => {
                let _ = writeln!(
                    out,
                    "{id:<10} {} {:<20} {:<20} {:<20}",
                    user_column(object.uid, true),
                    short_time(attach_time),
                    short_time(detach_time),
                    short_time(change_time)
                );
            }
            Format::Pid => {
                let _ = writeln!(out, "{id:<10} {} {creator_pid:<10} {last_pid:<10}", user_column(object.uid, true));
            }
            _ => {
                let shown = if unit == Unit::Human {
                    size(unit, None, bytes, "    ", 6)
                } else {
                    size(unit, None, bytes, "", -10)
                };
                let dest = if object.mode & 0o1000 != 0 { "dest" } else { " " };
                let locked = if object.mode & 0o2000 != 0 { "locked" } else { " " };
                let _ = writeln!(
                    out,
                    "0x{:08x} {id:<10} {} {:<10o} {shown} {attached:<10} {dest:<6} {locked:<6}",
                    object.key as u32,
                    user_column(object.uid, true),
                    object.mode & 0o777
                );
            }
        }
    }
}

fn sem_section(out: &mut String, format: Format, rows: &[&Object]) {
    match format {
        Format::Creator => {
            out.push_str("------ Semaphore Arrays Creators/Owners --------\n");
            creator_header(out, "semid");
        }
        Format::Time => {
            out.push_str("------ Semaphore Operation/Change Times --------\n");
            let _ = writeln!(out, "{:<8} {:<10} {:<26} {:<26}", "semid", "owner", "last-op", "last-changed");
        }
        // util-linux shows nothing for semaphores with --pid.
        Format::Pid => return,
        _ => {
            out.push_str("------ Semaphore Arrays --------\n");
            let _ = writeln!(out, "{:<10} {:<10} {:<10} {:<10} {:<10}", "key", "semid", "owner", "perms", "nsems");
        }
    }
    for object in rows {
        let Detail::Sem { ref semaphores, op_time, change_time } = object.detail else { continue };
        let id = id_of(object);
        match format {
            Format::Creator => perms_row(out, &format!("{id:<10}"), object),
            Format::Time => {
                let _ = writeln!(
                    out,
                    "{id:<8} {}  {:<26} {:<26}",
                    user_column(object.uid, true),
                    long_time(op_time),
                    long_time(change_time)
                );
            }
            _ => {
                let _ = writeln!(
                    out,
                    "0x{:08x} {id:<10} {} {:<10o} {:<10}",
                    object.key as u32,
                    user_column(object.uid, true),
                    object.mode & 0o777,
                    semaphores.len()
                );
            }
        }
    }
}

/// A POSIX queue's name as mq_open takes it.
fn mq_name(object: &Object) -> String {
    match &object.handle {
        Handle::Name(name) => format!("/{}", String::from_utf8_lossy(name)),
        Handle::Id(id) => id.to_string(),
    }
}

fn notification_text(object: &Object) -> String {
    match object.detail {
        Detail::Mq { notification: Some(n), .. } => match n.kind {
            libc::SIGEV_SIGNAL => format!("pid {} (signal {})", n.pid, n.signal),
            libc::SIGEV_THREAD => format!("pid {} (thread)", n.pid),
            _ => format!("pid {} (none)", n.pid),
        },
        _ => "-".to_owned(),
    }
}

/// The POSIX queues (util-linux has no such section): sorted by name, in
/// the System V sections' layout with the name first. Linux keeps no
/// times for them, so `--time` shows none.
fn mq_section(out: &mut String, format: Format, unit: Unit, rows: &[&Object]) {
    let mut rows = rows.to_vec();
    rows.sort_by_key(|o| mq_name(o));
    match format {
        Format::Creator => {
            out.push_str("------ POSIX Message Queues Creators/Owners --------\n");
            let _ = writeln!(out, "{:<20} {:<10} {:<10} {:<10}", "name", "perms", "uid", "gid");
        }
        Format::Time => unreachable!("no section with --time"),
        Format::Pid => {
            out.push_str("------ POSIX Message Queues PIDs --------\n");
            let _ = writeln!(out, "{:<20} {:<10} {:<10} {:<10}", "name", "owner", "lspid", "lrpid");
        }
        _ => {
            out.push_str("------ POSIX Message Queues --------\n");
            let bytes = if unit == Unit::Human { "size" } else { "used-bytes" };
            let _ = writeln!(
                out,
                "{:<20} {:<10} {:<10} {bytes:<12} {:<12} {:<12} {:<12} notify",
                "name", "owner", "perms", "messages", "maxmsg", "msgsize"
            );
        }
    }
    for object in rows {
        let Detail::Mq { bytes, messages, max_messages, message_size, last_send_pid, last_receive_pid, .. } =
            object.detail
        else {
            continue;
        };
        let name = mq_name(object);
        match format {
            Format::Creator => {
                let _ = writeln!(
                    out,
                    "{name:<20} {:<10o} {} {}",
                    object.mode & 0o777,
                    user_column(object.uid, false),
                    group_column(object.gid)
                );
            }
            Format::Pid => {
                let _ = writeln!(
                    out,
                    "{name:<20} {} {last_send_pid:<10} {last_receive_pid:<10}",
                    user_column(object.uid, true)
                );
            }
            _ => {
                let used = used_bytes(unit, bytes);
                let _ = writeln!(
                    out,
                    "{name:<20} {} {:<10o} {used} {messages:<12} {max_messages:<12} {message_size:<12} {}",
                    user_column(object.uid, true),
                    object.mode & 0o777,
                    notification_text(object)
                );
            }
        }
    }
}

/// `--limits`: the namespace's limits, which are the kernel's (read from
/// /proc/sys as the library reads them).
fn limits(out: &mut String, kind: Kind, unit: Unit) {
    let or = |unit: Unit, default: Unit| if unit == Unit::Default { default } else { unit };
    match kind {
        Kind::Msg => {
            let l = ipcshim::msg::limits();
            out.push_str("------ Messages Limits --------\n");
            let _ = writeln!(out, "max queues system wide = {}", l.msgmni);
            out.push_str(&size(or(unit, Unit::Bytes), Some("max size of message"), l.msgmax as u64, "\n", 0));
            out.push_str(&size(or(unit, Unit::Bytes), Some("default max size of queue"), l.msgmnb, "\n", 0));
        }
        Kind::Shm => {
            let l = ipcshim::shm::limits();
            let page = ipcshim::shm::page_size();
            out.push_str("------ Shared Memory Limits --------\n");
            let _ = writeln!(out, "max number of segments = {}", l.shmmni);
            out.push_str(&size(or(unit, Unit::Kilobytes), Some("max seg size"), l.shmmax, "\n", 0));
            if matches!(unit, Unit::Default | Unit::Kilobytes) {
                let kb = l.shmall.checked_mul(page / 1024).unwrap_or(u64::MAX - u64::MAX % (page / 1024));
                out.push_str(&size(Unit::Default, Some("max total shared memory (kbytes)"), kb, "\n", 0));
            } else {
                let bytes = l.shmall.checked_mul(page).unwrap_or(u64::MAX - u64::MAX % page);
                out.push_str(&size(unit, Some("max total shared memory"), bytes, "\n", 0));
            }
            out.push_str(&size(or(unit, Unit::Bytes), Some("min seg size"), 1, "\n", 0));
        }
        Kind::Sem => {
            let l = ipcshim::sem::limits();
            out.push_str("------ Semaphore Limits --------\n");
            let _ = writeln!(out, "max number of arrays = {}", l.semmni);
            let _ = writeln!(out, "max semaphores per array = {}", l.semmsl);
            let _ = writeln!(out, "max semaphores system wide = {}", l.semmns as i32);
            let _ = writeln!(out, "max ops per semop call = {}", l.semopm);
            let _ = writeln!(out, "semaphore max value = {}", ipcshim::sem::SEMVMX);
        }
        Kind::Mq => {
            let read = |name: &str, default: u64| {
                std::fs::read_to_string(format!("/proc/sys/fs/mqueue/{name}"))
                    .ok()
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(default)
            };
            out.push_str("------ POSIX Message Queues Limits --------\n");
            let _ = writeln!(out, "max queues system wide = {}", read("queues_max", 256));
            let _ = writeln!(out, "max messages per queue = {}", read("msg_max", 10));
            out.push_str(&size(or(unit, Unit::Bytes), Some("max size of message"), read("msgsize_max", 8192), "\n", 0));
            let _ = writeln!(out, "default max messages per queue = {}", read("msg_default", 10));
            out.push_str(&size(
                or(unit, Unit::Bytes),
                Some("default max size of message"),
                read("msgsize_default", 8192),
                "\n",
                0,
            ));
        }
    }
}

/// `--summary`: what MSG_INFO, SHM_INFO and SEM_INFO report, summed over
/// the rows.
fn status(out: &mut String, kind: Kind, unit: Unit, rows: &[&Object]) {
    let used_space_end = if unit == Unit::Default { " bytes\n" } else { "\n" };
    match kind {
        Kind::Msg | Kind::Mq => {
            let (mut messages, mut bytes) = (0, 0);
            for object in rows {
                if let Detail::Msg { messages: m, bytes: b, .. } | Detail::Mq { messages: m, bytes: b, .. } =
                    object.detail
                {
                    messages += m;
                    bytes += b;
                }
            }
            if kind == Kind::Msg {
                out.push_str("------ Messages Status --------\n");
                let _ = writeln!(out, "allocated queues = {}", rows.len());
                let _ = writeln!(out, "used headers = {messages}");
            } else {
                out.push_str("------ POSIX Message Queues Status --------\n");
                let _ = writeln!(out, "allocated queues = {}", rows.len());
                let _ = writeln!(out, "messages = {messages}");
            }
            out.push_str(&size(unit, Some("used space"), bytes, used_space_end, 0));
        }
        Kind::Shm => {
            let page = ipcshim::shm::page_size();
            let pages: u64 = rows
                .iter()
                .map(|o| if let Detail::Shm { size, .. } = o.detail { size.div_ceil(page) } else { 0 })
                .sum();
            out.push_str("------ Shared Memory Status --------\n");
            let _ = write!(
                out,
                "segments allocated {}\npages allocated {pages}\npages resident  {pages}\npages swapped   0\nSwap performance: 0 attempts\t 0 successes\n",
                rows.len()
            );
        }
        Kind::Sem => {
            let semaphores: usize = rows
                .iter()
                .map(|o| if let Detail::Sem { semaphores, .. } = &o.detail { semaphores.len() } else { 0 })
                .sum();
            out.push_str("------ Semaphore Status --------\n");
            let _ = writeln!(out, "used arrays = {}", rows.len());
            let _ = writeln!(out, "allocated semaphores = {semaphores}");
        }
    }
}

/// `--id`: one object in full.
fn details(out: &mut String, object: &Object, unit: Unit) {
    let id = id_of(object);
    let human = unit == Unit::Human;
    match &object.detail {
        Detail::Msg {
            bytes,
            messages,
            max_bytes,
            last_send_pid,
            last_receive_pid,
            send_time,
            receive_time,
            change_time,
            ..
        } => {
            let _ = writeln!(out, "\nMessage Queue msqid={id}");
            let _ = writeln!(
                out,
                "uid={}\tgid={}\tcuid={}\tcgid={}\tmode={}",
                object.uid,
                object.gid,
                object.cuid,
                object.cgid,
                alt_octal(object.mode)
            );
            out.push_str(&size(unit, Some(if human { "csize=" } else { "cbytes=" }), *bytes, "\t", 0));
            out.push_str(&size(unit, Some(if human { "qsize=" } else { "qbytes=" }), *max_bytes, "\t", 0));
            let _ = writeln!(out, "qnum={messages}\tlspid={last_send_pid}\tlrpid={last_receive_pid}");
            let _ = writeln!(out, "send_time={:<26}", long_time(*send_time));
            let _ = writeln!(out, "rcv_time={:<26}", long_time(*receive_time));
            let _ = writeln!(out, "change_time={:<26}", long_time(*change_time));
        }
        Detail::Shm { size: bytes, attached, creator_pid, last_pid, attach_time, detach_time, change_time } => {
            let _ = writeln!(out, "\nShared memory Segment shmid={id}");
            let _ = writeln!(out, "uid={}\tgid={}\tcuid={}\tcgid={}", object.uid, object.gid, object.cuid, object.cgid);
            let _ = writeln!(out, "mode={}\taccess_perms={}", alt_octal(object.mode), alt_octal(object.mode & 0o777));
            out.push_str(&size(unit, Some(if human { "size=" } else { "bytes=" }), *bytes, "\t", 0));
            let _ = writeln!(out, "lpid={last_pid}\tcpid={creator_pid}\tnattch={attached}");
            let _ = writeln!(out, "att_time={:<26}", long_time(*attach_time));
            let _ = writeln!(out, "det_time={:<26}", long_time(*detach_time));
            let _ = writeln!(out, "change_time={:<26}", names::ctime(*change_time));
        }
        Detail::Sem { semaphores, op_time, change_time } => {
            let _ = writeln!(out, "\nSemaphore Array semid={id}");
            let _ =
                writeln!(out, "uid={}\t gid={}\t cuid={}\t cgid={}", object.uid, object.gid, object.cuid, object.cgid);
            let _ = writeln!(out, "mode={}, access_perms={}", alt_octal(object.mode), alt_octal(object.mode & 0o777));
            let _ = writeln!(out, "nsems = {}", semaphores.len());
            let _ = writeln!(out, "otime = {:<26}", long_time(*op_time));
            let _ = writeln!(out, "ctime = {:<26}", names::ctime(*change_time));
            let _ = writeln!(out, "{:<10} {:<10} {:<10} {:<10} {:<10}", "semnum", "value", "ncount", "zcount", "pid");
            for (n, s) in semaphores.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "{n:<10} {:<10} {:<10} {:<10} {:<10}",
                    s.value, s.waiting_increase, s.waiting_zero, s.last_pid
                );
            }
        }
        Detail::Mq { .. } => {}
    }
    out.push('\n');
}

/// The used-bytes column of a queue's row, as util-linux prints it: right
/// in six columns and a gap for `--human`, else left in twelve.
fn used_bytes(unit: Unit, bytes: u64) -> String {
    if unit == Unit::Human {
        size(unit, None, bytes, "      ", 6)
    } else {
        size(unit, None, bytes, "", -12)
    }
}

//! `ipcshim ipcs`: util-linux's ipcs (2.38) for a namespace, column for
//! column, from the rows the library's walk gives (`Namespace::objects`);
//! then a section of POSIX queues, which util-linux's ipcs does not show.

use crate::cli::IpcsArgs;
use crate::names::{self, group_column, long_time, short_time, size, user_column, Unit};
use crate::Failure;
use clap::ArgMatches;
use ipcshim::process::inspect::{Detail, Handle, Kind, Object};
use std::fmt::Write;
use table::{column_names, header, left, padded, right, row, title, Cell};

mod table;

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

/// The name of a size column: "size" with `--human`.
fn size_name(unit: Unit, name: &str) -> &str {
    if unit == Unit::Human {
        "size"
    } else {
        name
    }
}

/// A size column `width` wide: util-linux right-aligns a human size in 6
/// and pads the rest after it.
fn size_cell(unit: Unit, bytes: u64, width: usize) -> Cell {
    if unit == Unit::Human {
        padded(size(unit, None, bytes, &" ".repeat(width - 6), 6))
    } else {
        left(size(unit, None, bytes, "", 0), width)
    }
}

/// A System V section's default row: key, id, owner, permission bits,
/// then the section's own cells.
fn key_row<const N: usize>(id: i32, object: &Object, own: [Cell; N]) -> Vec<Cell> {
    let mut cells =
        vec![padded(format!("0x{:08x}", object.key as u32)), left(id, 10), owner_cell(object), perms_cell(object)];
    cells.extend(own);
    cells
}

/// A `--time` row of three short dates.
fn short_times_row(id: Cell, object: &Object, times: [i64; 3]) -> Vec<Cell> {
    let mut cells = vec![id, owner_cell(object)];
    cells.extend(times.map(|time| left(short_time(time), 20)));
    cells
}

fn owner_cell(object: &Object) -> Cell {
    padded(user_column(object.uid, true))
}

/// The permission bits in octal, `%-10o`.
fn perms_cell(object: &Object) -> Cell {
    left(format!("{:o}", object.mode & 0o777), 10)
}

/// ipc_print_perms: id, permission bits, creator and owner.
fn creator_cells(id: i32, object: &Object) -> Vec<Cell> {
    vec![
        left(id, 10),
        perms_cell(object),
        padded(user_column(object.cuid, false)),
        padded(group_column(object.cgid)),
        padded(user_column(object.uid, false)),
        padded(group_column(object.gid)),
    ]
}

/// The column names of a System V section's default rows ([`key_row`]).
fn key_header(out: &mut String, title: &str, id: &str, own: &[(&str, usize)]) {
    header(out, title, &[&[("key", 10), (id, 10), ("owner", 10), ("perms", 10)], own].concat());
}

fn creator_header(out: &mut String, title: &str, first: &str) {
    header(out, title, &[(first, 10), ("perms", 10), ("cuid", 10), ("cgid", 10), ("uid", 10), ("gid", 10)]);
}

fn msg_section(out: &mut String, format: Format, unit: Unit, rows: &[&Object]) {
    match format {
        Format::Creator => creator_header(out, "Message Queues Creators/Owners", "msqid"),
        Format::Time => header(
            out,
            "Message Queues Send/Recv/Change Times",
            &[("msqid", 8), ("owner", 10), ("send", 20), ("recv", 20), ("change", 20)],
        ),
        Format::Pid => {
            header(out, "Message Queues PIDs", &[("msqid", 10), ("owner", 10), ("lspid", 10), ("lrpid", 10)])
        }
        _ => key_header(out, "Message Queues", "msqid", &[(size_name(unit, "used-bytes"), 12), ("messages", 12)]),
    }
    for object in rows {
        let Detail::Msg {
            bytes, messages, last_send_pid, last_receive_pid, send_time, receive_time, change_time, ..
        } = object.detail
        else {
            continue;
        };
        let id = id_of(object);
        let cells = match format {
            Format::Creator => creator_cells(id, object),
            Format::Time => short_times_row(left(id, 8), object, [send_time, receive_time, change_time]),
            Format::Pid => {
                vec![left(id, 8), owner_cell(object), right(last_send_pid, 5).gap(1), right(last_receive_pid, 5).gap(4)]
            }
            _ => key_row(id, object, [size_cell(unit, bytes, 12), left(messages, 12)]),
        };
        row(out, &cells);
    }
}

fn shm_section(out: &mut String, format: Format, unit: Unit, rows: &[&Object]) {
    match format {
        Format::Creator => creator_header(out, "Shared Memory Segment Creators/Owners", "shmid"),
        Format::Time => header(
            out,
            "Shared Memory Attach/Detach/Change Times",
            &[("shmid", 10), ("owner", 10), ("attached", 20), ("detached", 20), ("changed", 20)],
        ),
        Format::Pid => header(
            out,
            "Shared Memory Creator/Last-op PIDs",
            &[("shmid", 10), ("owner", 10), ("cpid", 10), ("lpid", 10)],
        ),
        _ => key_header(
            out,
            "Shared Memory Segments",
            "shmid",
            &[(size_name(unit, "bytes"), 10), ("nattch", 10), ("status", 12)],
        ),
    }
    for object in rows {
        let Detail::Shm { size: bytes, attached, creator_pid, last_pid, attach_time, detach_time, change_time } =
            object.detail
        else {
            continue;
        };
        let id = id_of(object);
        let cells = match format {
            Format::Creator => creator_cells(id, object),
            Format::Time => short_times_row(left(id, 10), object, [attach_time, detach_time, change_time]),
            Format::Pid => vec![left(id, 10), owner_cell(object), left(creator_pid, 10), left(last_pid, 10)],
            _ => {
                let dest = if object.mode & 0o1000 != 0 { "dest" } else { " " };
                let locked = if object.mode & 0o2000 != 0 { "locked" } else { " " };
                key_row(id, object, [size_cell(unit, bytes, 10), left(attached, 10), left(dest, 6), left(locked, 6)])
            }
        };
        row(out, &cells);
    }
}

fn sem_section(out: &mut String, format: Format, rows: &[&Object]) {
    match format {
        Format::Creator => creator_header(out, "Semaphore Arrays Creators/Owners", "semid"),
        Format::Time => header(
            out,
            "Semaphore Operation/Change Times",
            &[("semid", 8), ("owner", 10), ("last-op", 26), ("last-changed", 26)],
        ),
        // util-linux shows nothing for semaphores with --pid.
        Format::Pid => return,
        _ => key_header(out, "Semaphore Arrays", "semid", &[("nsems", 10)]),
    }
    for object in rows {
        let Detail::Sem { ref semaphores, op_time, change_time } = object.detail else { continue };
        let id = id_of(object);
        let cells = match format {
            Format::Creator => creator_cells(id, object),
            Format::Time => {
                vec![
                    left(id, 8),
                    owner_cell(object),
                    left(long_time(op_time), 26).gap(1),
                    left(long_time(change_time), 26),
                ]
            }
            _ => key_row(id, object, [left(semaphores.len(), 10)]),
        };
        row(out, &cells);
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
        Format::Creator => header(
            out,
            "POSIX Message Queues Creators/Owners",
            &[("name", 20), ("perms", 10), ("uid", 10), ("gid", 10)],
        ),
        Format::Time => unreachable!("no section with --time"),
        Format::Pid => {
            header(out, "POSIX Message Queues PIDs", &[("name", 20), ("owner", 10), ("lspid", 10), ("lrpid", 10)])
        }
        _ => header(
            out,
            "POSIX Message Queues",
            &[
                ("name", 20),
                ("owner", 10),
                ("perms", 10),
                (size_name(unit, "used-bytes"), 12),
                ("messages", 12),
                ("maxmsg", 12),
                ("msgsize", 12),
                ("notify", 0),
            ],
        ),
    }
    for object in rows {
        let Detail::Mq { bytes, messages, max_messages, message_size, last_send_pid, last_receive_pid, .. } =
            object.detail
        else {
            continue;
        };
        let name = left(mq_name(object), 20);
        let cells = match format {
            Format::Creator => {
                vec![name, perms_cell(object), padded(user_column(object.uid, false)), padded(group_column(object.gid))]
            }
            Format::Pid => vec![name, owner_cell(object), left(last_send_pid, 10), left(last_receive_pid, 10)],
            _ => vec![
                name,
                owner_cell(object),
                perms_cell(object),
                size_cell(unit, bytes, 12),
                left(messages, 12),
                left(max_messages, 12),
                left(message_size, 12),
                padded(notification_text(object)),
            ],
        };
        row(out, &cells);
    }
}

/// `--limits`: the namespace's limits, which are the kernel's (read from
/// /proc/sys as the library reads them).
fn limits(out: &mut String, kind: Kind, unit: Unit) {
    let or = |unit: Unit, default: Unit| if unit == Unit::Default { default } else { unit };
    match kind {
        Kind::Msg => {
            let l = ipcshim::msg::limits();
            title(out, "Messages Limits");
            let _ = writeln!(out, "max queues system wide = {}", l.msgmni);
            out.push_str(&size(or(unit, Unit::Bytes), Some("max size of message"), l.msgmax as u64, "\n", 0));
            out.push_str(&size(or(unit, Unit::Bytes), Some("default max size of queue"), l.msgmnb, "\n", 0));
        }
        Kind::Shm => {
            let l = ipcshim::shm::limits();
            let page = ipcshim::shm::page_size();
            title(out, "Shared Memory Limits");
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
            title(out, "Semaphore Limits");
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
            title(out, "POSIX Message Queues Limits");
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
                title(out, "Messages Status");
                let _ = writeln!(out, "allocated queues = {}", rows.len());
                let _ = writeln!(out, "used headers = {messages}");
            } else {
                title(out, "POSIX Message Queues Status");
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
            title(out, "Shared Memory Status");
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
            title(out, "Semaphore Status");
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
            column_names(out, &[("semnum", 10), ("value", 10), ("ncount", 10), ("zcount", 10), ("pid", 10)]);
            for (n, s) in semaphores.iter().enumerate() {
                let values =
                    [n as i64, s.value.into(), s.waiting_increase.into(), s.waiting_zero.into(), s.last_pid.into()];
                row(out, &values.map(|value| left(value, 10)));
            }
        }
        Detail::Mq { .. } => {}
    }
    out.push('\n');
}

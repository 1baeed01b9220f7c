//! A frame as text: a header line, a section per kind of object, then the
//! processes. Columns are separated by spaces and hold no spaces, but for
//! the processes' last two.

use super::frame::{handle_text, Frame};
use crate::names::{human, user_column};
use crate::place::Target;
use ipcshim::process::inspect::{Detail, Kind, Object, Role};
use std::fmt::Write;

/// Longest list of semaphore values or pids shown before it is cut ("…").
const LIST_WIDTH: usize = 24;

pub fn render(out: &mut String, target: &Target, frame: &Frame, before: Option<&Frame>) {
    let clock = crate::names::ctime(frame.time);
    let _ = writeln!(
        out,
        "ipcshim top - {} - namespace {:?} in {} - {} live process{}",
        clock.get(11..19).unwrap_or(&clock),
        target.name,
        target.dir.display(),
        frame.live.len(),
        if frame.live.len() == 1 { "" } else { "es" }
    );
    queues(out, frame, before, Kind::Msg);
    queues(out, frame, before, Kind::Mq);
    semaphores(out, frame);
    segments(out, frame);
    processes(out, frame);
}

fn title(out: &mut String, title: &str) {
    let _ = write!(out, "\n{title}\n");
}

fn none(out: &mut String) {
    out.push_str("  none\n");
}

/// A section's title, its column names, and its rows (after "none" if
/// it has none).
fn section<'f>(out: &mut String, frame: &'f Frame, kind: Kind, name: &str, columns: &str) -> Vec<&'f Object> {
    title(out, name);
    out.push_str(columns);
    out.push('\n');
    let rows = frame.of(kind);
    if rows.is_empty() {
        none(out);
    }
    rows
}

/// The column names of a System V section: ID, KEY and OWNER, then `rest`.
fn system_v_columns(rest: &str) -> String {
    format!("{:>8} {:<10} {:<10} {rest}", "ID", "KEY", "OWNER")
}

/// The first cells of a System V row, under [`system_v_columns`].
fn system_v_cells(out: &mut String, object: &Object) {
    let _ = write!(
        out,
        "{:>8} 0x{:08x} {} ",
        handle_text(&object.handle),
        object.key as u32,
        user_column(object.uid, true)
    );
}

/// Message queues of `kind` (System V, or POSIX).
fn queues(out: &mut String, frame: &Frame, before: Option<&Frame>, kind: Kind) {
    let columns = "MESSAGES      BYTES    IN/S   OUT/S SND-WAIT RCV-WAIT   LSPID   LRPID";
    let rows = if kind == Kind::Msg {
        section(out, frame, kind, "Message queues", &system_v_columns(columns))
    } else {
        section(out, frame, kind, "POSIX message queues", &format!("{:<19} {:<10} {columns}", "NAME", "OWNER"))
    };
    for object in rows {
        let (messages, bytes, send_pid, receive_pid) = match object.detail {
            Detail::Msg { messages, bytes, last_send_pid, last_receive_pid, .. }
            | Detail::Mq { messages, bytes, last_send_pid, last_receive_pid, .. } => {
                (messages, bytes, last_send_pid, last_receive_pid)
            }
            _ => continue,
        };
        let waiting = |role: Role| object.parties.iter().filter(|p| p.role == role).count();
        let (rate_in, rate_out) = match frame.rates(object, before) {
            Some((sent, taken)) => (per_second(sent), per_second(taken)),
            None => ("-".to_owned(), "-".to_owned()),
        };
        if kind == Kind::Msg {
            system_v_cells(out, object);
        } else {
            let _ = write!(out, "{:<19} {} ", handle_text(&object.handle), user_column(object.uid, true));
        }
        let _ = writeln!(
            out,
            "{messages:>8} {bytes:>10} {rate_in:>7} {rate_out:>7} {:>8} {:>8} {send_pid:>7} {receive_pid:>7}",
            waiting(Role::Sender),
            waiting(Role::Receiver)
        );
    }
}

fn semaphores(out: &mut String, frame: &Frame) {
    let columns = format!("{:>5} {:<LIST_WIDTH$} {:>4} {:>4} LAST-PIDS", "NSEMS", "VALUES", "NCNT", "ZCNT");
    for object in section(out, frame, Kind::Sem, "Semaphore sets", &system_v_columns(&columns)) {
        let Detail::Sem { semaphores, .. } = &object.detail else { continue };
        let values: Vec<String> = semaphores.iter().map(|s| s.value.to_string()).collect();
        let mut pids: Vec<String> = Vec::new();
        for pid in semaphores.iter().map(|s| s.last_pid).filter(|&p| p != 0) {
            if !pids.contains(&pid.to_string()) {
                pids.push(pid.to_string());
            }
        }
        system_v_cells(out, object);
        let _ = writeln!(
            out,
            "{:>5} {:<LIST_WIDTH$} {:>4} {:>4} {}",
            semaphores.len(),
            cut(&values.join(",")),
            semaphores.iter().map(|s| s.waiting_increase.max(0) as u64).sum::<u64>(),
            semaphores.iter().map(|s| s.waiting_zero.max(0) as u64).sum::<u64>(),
            if pids.is_empty() { "-".to_owned() } else { cut(&pids.join(",")) }
        );
    }
}

fn segments(out: &mut String, frame: &Frame) {
    let columns = format!("{:>7} {:>6} {:>7} {:>7} ATTACHED", "SIZE", "NATTCH", "CPID", "LPID");
    for object in section(out, frame, Kind::Shm, "Shared memory segments", &system_v_columns(&columns)) {
        let Detail::Shm { size, attached, creator_pid, last_pid, .. } = object.detail else { continue };
        let holders: Vec<String> =
            object.parties.iter().filter(|p| matches!(p.role, Role::Attached(_))).map(|p| p.pid.to_string()).collect();
        system_v_cells(out, object);
        let _ = writeln!(
            out,
            "{:>7} {attached:>6} {creator_pid:>7} {last_pid:>7} {}",
            human(size),
            if holders.is_empty() { "-".to_owned() } else { holders.join(",") }
        );
    }
}

fn processes(out: &mut String, frame: &Frame) {
    title(out, "Processes");
    let _ = writeln!(out, "{:>7} {:<16} {:<32} WAITS ON", "PID", "COMMAND", "HOLDS");
    let all = frame.processes();
    if all.is_empty() {
        return none(out);
    }
    let list = |items: &[String]| if items.is_empty() { "-".to_owned() } else { items.join(", ") };
    for (pid, involvement) in all {
        let _ = writeln!(
            out,
            "{pid:>7} {:<16} {:<32} {}",
            command(pid),
            list(&involvement.holds),
            list(&involvement.waits)
        );
    }
}

/// The process's command name (/proc/PID/comm), or "?".
fn command(pid: i32) -> String {
    match std::fs::read_to_string(format!("/proc/{pid}/comm")) {
        Ok(name) => name.trim_end().replace(' ', "_"),
        Err(_) => "?".to_owned(),
    }
}

/// `text`, cut to [`LIST_WIDTH`] characters with "…" if longer.
fn cut(text: &str) -> String {
    if text.chars().count() <= LIST_WIDTH {
        return text.to_owned();
    }
    let mut short: String = text.chars().take(LIST_WIDTH - 1).collect();
    short.push('…');
    short
}

/// A rate in at most 7 columns: "12.5", "8412", "876.5k", "7.49M".
fn per_second(rate: f64) -> String {
    match rate {
        r if r >= 1e7 => format!("{:.0}M", r / 1e6),
        r if r >= 1e6 => format!("{:.2}M", r / 1e6),
        r if r >= 1e4 => format!("{:.1}k", r / 1e3),
        r if r >= 100.0 => format!("{r:.0}"),
        r => format!("{r:.1}"),
    }
}

#[cfg(test)]
mod tests {
    use super::per_second;

    #[test]
    fn rates_fit_their_column() {
        let shown: Vec<String> = [0.0, 12.54, 8412.0, 876_510.4, 7_490_000.0, 12_300_000.0].map(per_second).into();
        assert_eq!(shown, ["0.0", "12.5", "8412", "876.5k", "7.49M", "12M"]);
    }
}

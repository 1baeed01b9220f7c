//! One frame: the namespace's objects and live processes at one moment,
//! and what comparing it with the frame before tells.

use ipcshim::error::Result;
use ipcshim::process::inspect::{Detail, Handle, Kind, Object, Role};
use ipcshim::process::Namespace;
use std::collections::BTreeMap;
use std::time::Instant;

pub struct Frame {
    /// When it was taken (for rates), and the wall clock (for the header).
    pub at: Instant,
    pub time: i64,
    pub objects: Vec<Object>,
    /// The namespace's live processes, but this one.
    pub live: Vec<i32>,
}

impl Frame {
    pub fn take(ns: &Namespace) -> Result<Frame> {
        let objects = ns.objects()?;
        let me = std::process::id() as i32;
        let mut live: Vec<i32> = ns.live_processes()?.into_iter().map(|p| p.pid()).filter(|&p| p != me).collect();
        live.sort_unstable();
        live.dedup();
        let time = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
        Ok(Frame { at: Instant::now(), time, objects, live })
    }

    /// The objects of `kind`, System V ones by id, POSIX queues by name.
    pub fn of(&self, kind: Kind) -> Vec<&Object> {
        let mut rows: Vec<&Object> = self.objects.iter().filter(|o| o.kind() == kind).collect();
        rows.sort_by(|a, b| order(&a.handle).cmp(&order(&b.handle)));
        rows
    }

    fn find(&self, kind: Kind, handle: &Handle) -> Option<&Object> {
        self.objects.iter().find(|o| o.kind() == kind && &o.handle == handle)
    }

    /// Messages per second sent to and taken from a queue since `before`;
    /// None for what cannot be told: no frame before, a queue that was
    /// not there then, or whose totals went back (a new queue under the
    /// same name, or a repaired list).
    pub fn rates(&self, object: &Object, before: Option<&Frame>) -> Option<(f64, f64)> {
        let before = before?;
        let (sent, taken) = totals(object)?;
        let (sent_then, taken_then) = totals(before.find(object.kind(), &object.handle)?)?;
        let seconds = self.at.duration_since(before.at).as_secs_f64();
        if sent < sent_then || taken < taken_then || seconds <= 0.0 {
            return None;
        }
        Some(((sent - sent_then) as f64 / seconds, (taken - taken_then) as f64 / seconds))
    }

    /// Every process that waits on or holds something, and every live
    /// one: what it holds and what it waits on, by pid.
    pub fn processes(&self) -> BTreeMap<i32, Involvement> {
        let mut all: BTreeMap<i32, Involvement> = self.live.iter().map(|&pid| (pid, Involvement::default())).collect();
        for object in &self.objects {
            for party in &object.parties {
                let what = format!("{} ({})", object_name(object), role_text(party.role));
                let entry = all.entry(party.pid).or_default();
                if party.role.is_wait() {
                    entry.waits.push(what);
                } else {
                    entry.holds.push(what);
                }
            }
        }
        all
    }
}

/// What one process holds and waits on, described.
#[derive(Default)]
pub struct Involvement {
    pub holds: Vec<String>,
    pub waits: Vec<String>,
}

fn order(handle: &Handle) -> (i32, &[u8]) {
    match handle {
        Handle::Id(id) => (*id, &[]),
        Handle::Name(name) => (0, name),
    }
}

fn totals(object: &Object) -> Option<(u64, u64)> {
    match object.detail {
        Detail::Msg { sent, taken, .. } | Detail::Mq { sent, taken, .. } => Some((sent, taken)),
        _ => None,
    }
}

/// An object as the processes section names it: "msg 3", "mq /name".
fn object_name(object: &Object) -> String {
    let kind = match object.kind() {
        Kind::Msg => "msg",
        Kind::Sem => "sem",
        Kind::Shm => "shm",
        Kind::Mq => "mq",
    };
    format!("{kind} {}", handle_text(&object.handle))
}

/// An id, or a POSIX queue's name as mq_open takes it.
pub fn handle_text(handle: &Handle) -> String {
    match handle {
        Handle::Id(id) => id.to_string(),
        Handle::Name(name) => format!("/{}", String::from_utf8_lossy(name)),
    }
}

fn role_text(role: Role) -> String {
    match role {
        Role::Sender => "send".to_owned(),
        Role::Receiver => "receive".to_owned(),
        Role::Increase(sem) => format!("#{sem} increase"),
        Role::Zero(sem) => format!("#{sem} zero"),
        Role::Attached(1) => "attached".to_owned(),
        Role::Attached(times) => format!("attached x{times}"),
        Role::Undo => "undo".to_owned(),
        Role::Notified => "notify".to_owned(),
    }
}

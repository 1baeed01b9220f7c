//! Evaluating a semop: Linux's `perform_atomic_semop`, on a scratch copy.

use super::set::{Change, Changes, Storage, SEMAEM, SEMVMX};
use crate::error::Errno;
use smallvec::SmallVec;

/// Scratch (semaphore, value) pairs: a few, for the common semop.
type Pairs = SmallVec<[(u16, i32); 8]>;

/// One `struct sembuf`.
#[derive(Clone, Copy, Debug)]
pub struct Sop {
    pub num: u16,
    pub op: i16,
    pub flags: i16,
}

impl Sop {
    pub fn undo(&self) -> bool {
        self.flags as i32 & libc::SEM_UNDO != 0
    }
    pub fn nowait(&self) -> bool {
        self.flags as i32 & libc::IPC_NOWAIT != 0
    }
}

/// What the operations would do now.
pub enum Outcome {
    /// They all apply: the changes left in the caller's buffer commit them.
    Apply,
    /// The first operation that cannot proceed (it waits for semaphore
    /// `sem` to grow, or to reach zero if `zero`).
    Block {
        sem: u16,
        zero: bool,
    },
    Fail(Errno),
}

/// Applies `sops` in order to a scratch copy of the values (and of undo
/// record `undo`'s adjustments), as Linux does: an operation sees the
/// effect of the earlier ones on the same semaphore. The first operation
/// that would block decides: EAGAIN if it has IPC_NOWAIT, else Block; one
/// that would overflow gives ERANGE.
pub fn evaluate(storage: &Storage, sops: &[Sop], undo: Option<u32>, pid: i32, changes: &mut Changes) -> Outcome {
    let mut values = Pairs::new();
    let mut adjustments = Pairs::new();
    for sop in sops {
        let current = match values.iter().find(|(n, _)| *n == sop.num) {
            Some(&(_, v)) => v,
            None => storage.value(sop.num as u32),
        };
        let result = current + sop.op as i32;
        if (sop.op == 0 && current != 0) || result < 0 {
            return if sop.nowait() {
                Outcome::Fail(Errno::EAGAIN)
            } else {
                Outcome::Block { sem: sop.num, zero: sop.op == 0 }
            };
        }
        if result > SEMVMX {
            return Outcome::Fail(Errno(libc::ERANGE));
        }
        if sop.undo() {
            let Some(record) = undo else { return Outcome::Fail(Errno::EIO) };
            let before = match adjustments.iter().find(|(n, _)| *n == sop.num) {
                Some(&(_, a)) => a,
                None => storage
                    .adjustment(record, sop.num as u32)
                    .map_or(0, |a| a.load(std::sync::atomic::Ordering::Relaxed) as i32),
            };
            let after = before - sop.op as i32;
            if !(-SEMAEM - 1..=SEMAEM).contains(&after) {
                return Outcome::Fail(Errno(libc::ERANGE));
            }
            set(&mut adjustments, sop.num, after);
        }
        set(&mut values, sop.num, result);
    }
    changes.clear();
    for &(sem, value) in &values {
        changes.push(Change::Value { sem: sem as u32, value });
        changes.push(Change::Pid { sem: sem as u32, pid });
    }
    if let Some(record) = undo {
        changes.extend(adjustments.iter().map(|&(sem, value)| Change::Adjust { record, sem: sem as u32, value }));
    }
    Outcome::Apply
}

fn set(pairs: &mut Pairs, key: u16, value: i32) {
    match pairs.iter_mut().find(|(n, _)| *n == key) {
        Some(pair) => pair.1 = value,
        None => pairs.push((key, value)),
    }
}

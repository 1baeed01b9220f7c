//! Evaluating a semop: Linux's `perform_atomic_semop`, on a scratch copy.
//! Pure: it reads the current values through [`Values`] and writes nothing.

use super::set::{Change, Changes, SEMAEM, SEMVMX};
use crate::error::Errno;
use smallvec::SmallVec;

/// Scratch (semaphore, value) pairs: a few, for the common semop.
type Pairs = SmallVec<[(u16, i32); 8]>;

/// One `struct sembuf`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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

    /// One word, for a wait record's payload.
    pub fn encode(self) -> u64 {
        self.num as u64 | (self.op as u16 as u64) << 16 | (self.flags as u16 as u64) << 32
    }

    pub fn decode(word: u64) -> Sop {
        Sop { num: word as u16, op: (word >> 16) as u16 as i16, flags: (word >> 32) as u16 as i16 }
    }
}

/// What the operations would do now.
#[derive(Debug, PartialEq, Eq)]
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

/// The current values, and the adjustments of the undo record in use.
pub trait Values {
    fn value(&self, sem: u32) -> i32;
    fn adjustment(&self, undo: u32, sem: u32) -> i32;
}

/// Applies `sops` in order to a scratch copy of the values (and of undo
/// record `undo`'s adjustments), as Linux does: an operation sees the
/// effect of the earlier ones on the same semaphore. The first operation
/// that would block decides: EAGAIN if it has IPC_NOWAIT, else Block; one
/// that would overflow gives ERANGE. On Apply, `changes` holds the new
/// values (with `pid` as their last changer) and adjustments.
pub fn evaluate(values: &impl Values, sops: &[Sop], undo: Option<u32>, pid: i32, changes: &mut Changes) -> Outcome {
    let mut scratch = Pairs::new();
    let mut adjustments = Pairs::new();
    for sop in sops {
        let current = lookup(&scratch, sop.num).unwrap_or_else(|| values.value(sop.num as u32));
        let result = current + sop.op as i32;
        if (sop.op == 0 && current != 0) || result < 0 {
            return if sop.nowait() {
                Outcome::Fail(Errno::EAGAIN)
            } else {
                Outcome::Block { sem: sop.num, zero: sop.op == 0 }
            };
        }
        if result > SEMVMX {
            return Outcome::Fail(Errno::ERANGE);
        }
        if sop.undo() {
            let Some(record) = undo else { return Outcome::Fail(Errno::EIO) };
            let before = lookup(&adjustments, sop.num).unwrap_or_else(|| values.adjustment(record, sop.num as u32));
            let after = before - sop.op as i32;
            if !(-SEMAEM - 1..=SEMAEM).contains(&after) {
                return Outcome::Fail(Errno::ERANGE);
            }
            set(&mut adjustments, sop.num, after);
        }
        set(&mut scratch, sop.num, result);
    }
    changes.clear();
    for &(sem, value) in &scratch {
        changes.push(Change::Value { sem: sem as u32, value });
        changes.push(Change::Pid { sem: sem as u32, pid });
    }
    if let Some(record) = undo {
        changes.extend(adjustments.iter().map(|&(sem, value)| Change::Adjust { record, sem: sem as u32, value }));
    }
    Outcome::Apply
}

fn lookup(pairs: &Pairs, key: u16) -> Option<i32> {
    pairs.iter().find(|(n, _)| *n == key).map(|&(_, v)| v)
}

fn set(pairs: &mut Pairs, key: u16, value: i32) {
    match pairs.iter_mut().find(|(n, _)| *n == key) {
        Some(pair) => pair.1 = value,
        None => pairs.push((key, value)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(Vec<i32>, Vec<i32>);

    impl Values for Fixed {
        fn value(&self, sem: u32) -> i32 {
            self.0[sem as usize]
        }
        fn adjustment(&self, _undo: u32, sem: u32) -> i32 {
            self.1[sem as usize]
        }
    }

    fn sop(num: u16, op: i16, flags: i32) -> Sop {
        Sop { num, op, flags: flags as i16 }
    }

    fn run(values: &[i32], sops: &[Sop], undo: Option<u32>) -> (Outcome, Changes) {
        let mut changes = Changes::new();
        let fixed = Fixed(values.to_vec(), vec![0; values.len()]);
        (evaluate(&fixed, sops, undo, 42, &mut changes), changes)
    }

    #[test]
    fn operations_apply_in_order_and_see_each_other() {
        let (outcome, changes) = run(&[1, 0], &[sop(0, -1, 0), sop(0, 2, 0), sop(1, 0, 0)], None);
        assert_eq!(outcome, Outcome::Apply);
        assert_eq!(
            &changes[..],
            &[
                Change::Value { sem: 0, value: 2 },
                Change::Pid { sem: 0, pid: 42 },
                Change::Value { sem: 1, value: 0 },
                Change::Pid { sem: 1, pid: 42 }
            ]
        );
    }

    #[test]
    fn the_first_operation_that_cannot_proceed_decides() {
        assert_eq!(run(&[0, 5], &[sop(1, -1, 0), sop(0, -1, 0)], None).0, Outcome::Block { sem: 0, zero: false });
        assert_eq!(run(&[3], &[sop(0, 0, 0)], None).0, Outcome::Block { sem: 0, zero: true });
        assert_eq!(run(&[0], &[sop(0, -1, libc::IPC_NOWAIT)], None).0, Outcome::Fail(Errno::EAGAIN));
        // An earlier operation makes a later one possible.
        assert_eq!(run(&[0], &[sop(0, 1, 0), sop(0, -1, 0)], None).0, Outcome::Apply);
    }

    #[test]
    fn overflow_is_erange() {
        assert_eq!(run(&[SEMVMX], &[sop(0, 1, 0)], None).0, Outcome::Fail(Errno::ERANGE));
        let mut changes = Changes::new();
        let at_limit = Fixed(vec![SEMVMX], vec![-SEMAEM - 1]);
        let outcome = evaluate(&at_limit, &[sop(0, -1, libc::SEM_UNDO)], Some(0), 1, &mut changes);
        assert_eq!(outcome, Outcome::Apply, "adjustment -SEMAEM-1 + 1 is in range");
        // An adjustment already at SEMAEM cannot take another -1 (P with SEM_UNDO).
        let at_max = Fixed(vec![5], vec![SEMAEM]);
        let p = sop(0, -1, libc::SEM_UNDO);
        assert_eq!(evaluate(&at_max, &[p], Some(0), 1, &mut changes), Outcome::Fail(Errno::ERANGE));
        assert_eq!(evaluate(&at_max, &[sop(0, 1, libc::SEM_UNDO)], Some(0), 1, &mut changes), Outcome::Apply);
    }

    #[test]
    fn undo_adjustments_accumulate_the_opposite_of_each_operation() {
        let (outcome, changes) = run(&[5], &[sop(0, -2, libc::SEM_UNDO), sop(0, -1, libc::SEM_UNDO)], Some(7));
        assert_eq!(outcome, Outcome::Apply);
        assert!(changes.contains(&Change::Adjust { record: 7, sem: 0, value: 3 }));
        assert!(changes.contains(&Change::Value { sem: 0, value: 2 }));
    }

    #[test]
    fn a_sop_survives_its_payload_encoding() {
        for s in [sop(0, 0, 0), sop(65535, -32768, libc::SEM_UNDO | libc::IPC_NOWAIT), sop(7, 32767, 0)] {
            assert_eq!(Sop::decode(s.encode()), s);
        }
    }
}

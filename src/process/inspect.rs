//! What a namespace holds, as a tool (the `ipcshim` command) shows it and
//! cleans it up: every family describes its objects as [`Object`] rows and
//! removes one of them by its own rules ([`Family::objects`],
//! [`Family::remove`]), so that a tool walks the namespace without knowing
//! its families. Besides what IPC_STAT shows, a row names the processes
//! that wait on the object or hold something in it ([`Party`]), and a
//! queue's running totals of messages, from which a tool derives rates.
//!
//! [`Family::objects`]: super::Family::objects
//! [`Family::remove`]: super::Family::remove

/// The kinds of object a namespace holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// System V message queues.
    Msg,
    /// System V semaphore sets.
    Sem,
    /// System V shared memory segments.
    Shm,
    /// POSIX message queues.
    Mq,
}

/// How an object is named for removal: System V objects by id, POSIX
/// queues by name (without the leading '/').
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Handle {
    Id(i32),
    Name(Vec<u8>),
}

/// One object, as its family describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Object {
    pub handle: Handle,
    /// The System V key (IPC_PRIVATE for a POSIX queue, which has none).
    pub key: i32,
    pub uid: u32,
    pub gid: u32,
    /// The creator (a POSIX queue's owner: Linux keeps no other).
    pub cuid: u32,
    pub cgid: u32,
    /// The permission bits, with the family's flags (SHM_DEST, SHM_LOCKED).
    pub mode: u32,
    pub detail: Detail,
    /// The processes waiting on it or holding something in it, as far as
    /// its family records them (a POSIX queue's descriptors are the
    /// program's own, so who has one open is not recorded).
    pub parties: Vec<Party>,
}

/// A process, and what it waits for or holds in an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Party {
    pub pid: i32,
    pub role: Role,
}

/// What a [`Party`] waits for or holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Waits to send: the queue is full.
    Sender,
    /// Waits for a message.
    Receiver,
    /// Waits in semop for semaphore `n` to increase (counted by GETNCNT).
    Increase(u32),
    /// Waits in semop for semaphore `n` to be zero (counted by GETZCNT).
    Zero(u32),
    /// Has the segment attached, this many times.
    Attached(u32),
    /// Holds SEM_UNDO adjustments in the set.
    Undo,
    /// Is registered for the queue's notification (mq_notify).
    Notified,
}

impl Role {
    /// Whether the process is blocked on the object (else it holds something).
    pub fn is_wait(self) -> bool {
        matches!(self, Role::Sender | Role::Receiver | Role::Increase(_) | Role::Zero(_))
    }
}

/// What each kind of object holds besides its name and permissions. Times
/// are seconds since the epoch, 0 when never set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Detail {
    Msg {
        bytes: u64,
        messages: u64,
        max_bytes: u64,
        last_send_pid: i32,
        last_receive_pid: i32,
        /// Messages ever sent to and taken from the queue (from its
        /// creation, or from the last repair of its list, which starts
        /// them again from what it holds).
        sent: u64,
        taken: u64,
        send_time: i64,
        receive_time: i64,
        change_time: i64,
    },
    Sem {
        semaphores: Vec<Semaphore>,
        op_time: i64,
        change_time: i64,
    },
    Shm {
        size: u64,
        attached: u64,
        creator_pid: i32,
        last_pid: i32,
        attach_time: i64,
        detach_time: i64,
        change_time: i64,
    },
    Mq {
        bytes: u64,
        messages: u64,
        max_messages: u64,
        message_size: u64,
        notification: Option<Notification>,
        last_send_pid: i32,
        last_receive_pid: i32,
        /// As a System V queue's.
        sent: u64,
        taken: u64,
    },
}

/// One semaphore of a set (GETVAL, GETNCNT, GETZCNT, GETPID).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Semaphore {
    pub value: i32,
    pub waiting_increase: i32,
    pub waiting_zero: i32,
    pub last_pid: i32,
}

/// A POSIX queue's registered notification.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Notification {
    pub pid: i32,
    /// SIGEV_NONE, SIGEV_SIGNAL or SIGEV_THREAD.
    pub kind: i32,
    /// The signal, for SIGEV_SIGNAL.
    pub signal: i32,
}

impl Object {
    pub fn kind(&self) -> Kind {
        match self.detail {
            Detail::Msg { .. } => Kind::Msg,
            Detail::Sem { .. } => Kind::Sem,
            Detail::Shm { .. } => Kind::Shm,
            Detail::Mq { .. } => Kind::Mq,
        }
    }

    /// A System V object's row from its `ipc_perm`, as IPC_STAT filled it.
    pub fn from_ipc_perm(id: i32, perm: &libc::ipc_perm, detail: Detail, parties: Vec<Party>) -> Object {
        Object {
            handle: Handle::Id(id),
            key: perm.__key,
            uid: perm.uid,
            gid: perm.gid,
            cuid: perm.cuid,
            cgid: perm.cgid,
            mode: perm.mode as u32,
            detail,
            parties,
        }
    }
}

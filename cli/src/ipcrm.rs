//! `ipcshim ipcrm`: util-linux's ipcrm (2.38) for a namespace, with its
//! messages and exit status, over the library's generic removal
//! (`Namespace::remove`: each family's own IPC_RMID or mq_unlink, with
//! its permission checks). POSIX queues are removed by name with `--mq`,
//! and `--all` takes `mq` too (a bare `--all` removes every kind).

use crate::cli::IpcrmArgs;
use crate::Failure;
use clap::ArgMatches;
use ipcshim::error::Errno;
use ipcshim::ffi::Opened;
use ipcshim::process::inspect::{Handle, Kind};

/// One removal asked for on the command line.
enum Request<'a> {
    Id(Kind, &'a str),
    Key(Kind, &'a str),
    Name(&'a str),
}

/// The requests in command-line order (util-linux acts on each option as
/// it reads it).
fn requests<'a>(args: &'a IpcrmArgs, matches: &ArgMatches) -> Vec<Request<'a>> {
    let mut found: Vec<(usize, Request<'a>)> = Vec::new();
    let mut add = |id: &str, values: &'a [String], make: &dyn Fn(&'a str) -> Request<'a>| {
        let at = matches.indices_of(id).map(|i| i.collect::<Vec<_>>()).unwrap_or_default();
        found.extend(
            values.iter().zip(at.into_iter().chain(std::iter::repeat(usize::MAX))).map(|(v, at)| (at, make(v))),
        );
    };
    add("shmem_id", &args.shmem_id, &|v| Request::Id(Kind::Shm, v));
    add("shmem_key", &args.shmem_key, &|v| Request::Key(Kind::Shm, v));
    add("queue_id", &args.queue_id, &|v| Request::Id(Kind::Msg, v));
    add("queue_key", &args.queue_key, &|v| Request::Key(Kind::Msg, v));
    add("semaphore_id", &args.semaphore_id, &|v| Request::Id(Kind::Sem, v));
    add("semaphore_key", &args.semaphore_key, &|v| Request::Key(Kind::Sem, v));
    add("mq", &args.mq, &|v| Request::Name(v));
    found.sort_by_key(|(at, _)| *at);
    found.into_iter().map(|(_, r)| r).collect()
}

pub fn ipcrm(args: &IpcrmArgs, matches: &ArgMatches) -> Result<u8, Failure> {
    let all: Option<Vec<Kind>> = match args.all.as_deref() {
        None => None,
        Some("all") => Some(vec![Kind::Shm, Kind::Sem, Kind::Msg, Kind::Mq]),
        Some("shm") => Some(vec![Kind::Shm]),
        Some("sem") => Some(vec![Kind::Sem]),
        Some("msg") => Some(vec![Kind::Msg]),
        Some("mq") => Some(vec![Kind::Mq]),
        Some(other) => return Err(Failure::new(format!("unknown argument: {other}"))),
    };
    let requests = requests(args, matches);
    if requests.is_empty() && all.is_none() {
        return Ok(0);
    }
    let target = crate::place::resolve(&args.place)?;
    let remover = Remover { ns: crate::place::open(&target)?, verbose: args.verbose };
    let mut errors = 0;
    for request in requests {
        let failed = match request {
            Request::Id(kind, text) => remover.by_id(kind, parse_id(text)?, None)?,
            Request::Key(kind, text) => remover.by_key(kind, text)?,
            Request::Name(name) => remover.by_name(name),
        };
        errors += failed as u32;
    }
    if let Some(kinds) = all {
        for kind in kinds {
            errors += remover.all(kind)? as u32;
        }
    }
    Ok(if errors == 0 { 0 } else { 1 })
}

/// util-linux's strtos32_or_err.
fn parse_id(text: &str) -> Result<i32, Failure> {
    text.parse::<i32>().map_err(|_| Failure::new(format!("failed to parse argument: '{text}'")))
}

/// util-linux's strtokey: strtoul with base 0 (hex, octal or decimal),
/// the result taken as a key_t.
fn parse_key(text: &str) -> Result<i32, Failure> {
    let invalid = || Failure::new(format!("failed to parse argument: '{text}'"));
    let (negative, digits) = match text.trim_start().strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.trim_start().strip_prefix('+').unwrap_or(text.trim_start())),
    };
    let (radix, digits) = if let Some(hex) = digits.strip_prefix("0x").or_else(|| digits.strip_prefix("0X")) {
        (16, hex)
    } else if digits.len() > 1 && digits.starts_with('0') {
        (8, &digits[1..])
    } else {
        (10, digits)
    };
    if digits.is_empty() || digits.starts_with(['+', '-']) {
        return Err(invalid());
    }
    let value = u64::from_str_radix(digits, radix).map_err(|e| match e.kind() {
        std::num::IntErrorKind::PosOverflow => {
            Failure::new(format!("failed to parse argument: '{text}': Numerical result out of range"))
        }
        _ => invalid(),
    })?;
    Ok(if negative { value.wrapping_neg() } else { value } as i32)
}

struct Remover {
    ns: Opened,
    verbose: bool,
}

impl Remover {
    /// util-linux's remove_id: whether it failed (a warning); an
    /// unexpected error ends the command.
    fn by_id(&self, kind: Kind, id: i32, key: Option<&str>) -> Result<bool, Failure> {
        if self.verbose {
            let what = match kind {
                Kind::Shm => "shared memory segment",
                Kind::Msg => "message queue",
                _ => "semaphore",
            };
            println!("removing {what} id `{id}'");
        }
        let on_key = key.is_some();
        let message = match self.ns.remove(kind, &Handle::Id(id)) {
            Ok(()) => return Ok(false),
            Err(Errno::EACCES | Errno::EPERM) => {
                if on_key {
                    "permission denied for key"
                } else {
                    "permission denied for id"
                }
            }
            Err(Errno::EINVAL) => {
                if on_key {
                    "invalid key"
                } else {
                    "invalid id"
                }
            }
            Err(Errno::EIDRM) => {
                if on_key {
                    "already removed key"
                } else {
                    "already removed id"
                }
            }
            Err(Errno(e)) => {
                let what = if on_key { "key failed" } else { "id failed" };
                return Err(Failure::new(format!("{what}: {}", std::io::Error::from_raw_os_error(e))));
            }
        };
        eprintln!("ipcshim: {message} ({id})");
        Ok(true)
    }

    /// util-linux's key_to_id then remove_id.
    fn by_key(&self, kind: Kind, text: &str) -> Result<bool, Failure> {
        let key = parse_key(text)?;
        if key == libc::IPC_PRIVATE {
            eprintln!("ipcshim: illegal key ({text})");
            return Ok(true);
        }
        let objects = self
            .ns
            .objects()
            .map_err(|Errno(e)| Failure::new(format!("key failed: {}", std::io::Error::from_raw_os_error(e))))?;
        match objects.iter().find(|o| o.kind() == kind && o.key == key).map(|o| &o.handle) {
            Some(&Handle::Id(id)) => self.by_id(kind, id, Some(text)),
            _ => {
                eprintln!("ipcshim: invalid key ({text})");
                Ok(true)
            }
        }
    }

    /// A POSIX queue, as mq_unlink: whether it failed (a warning).
    fn by_name(&self, name: &str) -> bool {
        let bare = name.strip_prefix('/').unwrap_or(name);
        if self.verbose {
            println!("removing POSIX message queue `/{bare}'");
        }
        let message = match self.ns.remove(Kind::Mq, &Handle::Name(bare.as_bytes().to_vec())) {
            Ok(()) => return false,
            Err(Errno::ENOENT) => "invalid name".to_owned(),
            Err(Errno::EACCES | Errno::EPERM) => "permission denied for name".to_owned(),
            Err(Errno(e)) => format!("cannot remove name: {}", std::io::Error::from_raw_os_error(e)),
        };
        eprintln!("ipcshim: {message} (/{bare})");
        true
    }

    /// `--all`: every object of `kind`; whether any removal failed.
    fn all(&self, kind: Kind) -> Result<bool, Failure> {
        let objects = self.ns.objects().map_err(|Errno(e)| {
            Failure::new(format!("cannot list objects: {}", std::io::Error::from_raw_os_error(e)))
        })?;
        let mut failed = false;
        for object in objects.iter().filter(|o| o.kind() == kind) {
            failed |= match &object.handle {
                &Handle::Id(id) => self.by_id(kind, id, None)?,
                Handle::Name(name) => self.by_name(&String::from_utf8_lossy(name)),
            };
        }
        Ok(failed)
    }
}

#[cfg(test)]
mod tests {
    use super::parse_key;

    #[test]
    fn keys_are_read_as_strtoul_reads_them() {
        assert_eq!(parse_key("0x1234").unwrap(), 0x1234);
        assert_eq!(parse_key("010").unwrap(), 8);
        assert_eq!(parse_key("42").unwrap(), 42);
        assert_eq!(parse_key("-1").unwrap(), -1);
        assert_eq!(parse_key("0xffffffff").unwrap(), -1);
        assert!(parse_key("").is_err());
        assert!(parse_key("12z").is_err());
        assert!(parse_key("0x").is_err());
    }
}

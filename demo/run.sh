#!/usr/bin/env bash
# demo/run.sh -- the course's IPC programs under `ipcshim run --no-kernel-ipc`,
# each compared with its run on the kernel.
#
#   demo/run.sh              build everything (cargo build --release), compile
#                            the course's programs (c-tests/course_*.c, then
#                            demo/*.c) and run each one
#                              - on the kernel, in an IPC namespace of its own
#                                (unshare --ipc), when unshare is permitted;
#                              - under the shim: ipcshim run --no-kernel-ipc
#                                --dir <namespace directory> -- PROGRAM, where
#                                the kernel's IPC system calls fail with ENOSYS,
#                                so every IPC call it makes is the shim's;
#                            printing what it does, its output, and whether
#                            output and exit status match the kernel's run;
#                            then `ipcshim ipcs` on the namespace every program
#                            used, to show that they left nothing in it.
#   demo/run.sh NAME...      only the named programs (e.g. course_mq tipos)
#   demo/run.sh --keep ...   keep the temporary directory (binaries, outputs,
#                            the namespace directory) and print its path
#
# Needs bash, the Rust toolchain (cargo), a C compiler (cc: Debian's gcc and
# libc6-dev), seq (coreutils) and xz (xz-utils); unshare (util-linux) and
# root, or user namespaces, for the kernel runs. Environment: CC (default
# cc); CARGO_TARGET_DIR is honoured.
#
# Works from any directory. Exit status 0 only if every program passed under
# the shim, matched its kernel run, and the namespace was left empty.
set -euo pipefail

DEMO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$DEMO_DIR/.." && pwd)"

# The programs, in the order they run, with what each does. Every one checks
# its own results, exits non-zero on failure, removes what it created, and
# prints a transcript without pids, paths or times.
PROGRAMS=(
  course_pipe_fork course_fifo_seq_xz course_msg_client_server course_mailbox_mutex
  course_buffer_server course_shm_sem_prodcons course_mq
  claves tipos almacen buzon cliente_servidor productor_consumidor memoria_compartida cola_posix
)
declare -A DOES=(
  [course_pipe_fork]="pipe + fork: a child writes to its parent; a full pipe stops the writer, an empty one the reader; SIGPIPE without readers"
  [course_fifo_seq_xz]="named pipe: mkfifo, xz reading it in the background, seq writing into it; then the same with mkfifo(2), fork and exec"
  [course_msg_client_server]="client/server over one System V message queue: requests with mtype 1, each reply with mtype = the client's pid"
  [course_mailbox_mutex]="mutual exclusion with a mailbox: one \"turno\" message in a queue guards a critical section in shared memory"
  [course_buffer_server]="producer/consumer through a buffer server (RPC over message queues), the producer held back while the buffer is full"
  [course_shm_sem_prodcons]="producer/consumer through shared memory with two semaphores: seq -> server -> ring of slots -> client"
  [course_mq]="POSIX message queue: highest priority and oldest first; a bounded queue holds the producer back"
  [claves]="the three ways to get a key (ftok, IPC_PRIVATE, a fixed key), IPC_CREAT/IPC_EXCL, IPC_STAT/IPC_SET/IPC_RMID"
  [tipos]="msgrcv's msgtyp 0, > 0 and < 0; messages too long for the buffer (E2BIG, MSG_NOERROR)"
  [almacen]="buffering: non-blocking receive (ENOMSG), a bounded queue (EAGAIN), blocking send and receive, EIDRM"
  [buzon]="mutual exclusion with a mailbox holding one \"turno\" message, checked with a log and an unsafe counter"
  [cliente_servidor]="request/reply: mtype 1 to the server, mtype = pid to each client; the server alone keeps the total"
  [productor_consumidor]="bounded producer/consumer with message passing, bounded by zero-length \"VACIO\" credit messages"
  [memoria_compartida]="server/client: standard input -> shared memory -> standard output, with two semaphores"
  [cola_posix]="POSIX queues: mq_open/mq_send/mq_receive/mq_close; the oldest message of the highest priority first"
)
source_of() {
  case "$1" in
    course_*) echo "$REPO/c-tests/$1.c" ;;
    *) echo "$DEMO_DIR/$1.c" ;;
  esac
}

# The comment block at the top of this file is the help text.
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; }

keep=0
chosen=()
for arg in "$@"; do
  case "$arg" in
    --keep) keep=1 ;;
    -h|--help) usage; exit 0 ;;
    -*) echo "run.sh: unknown option: $arg" >&2; usage >&2; exit 2 ;;
    *)
      if [[ -z "${DOES[$arg]+x}" ]]; then
        echo "run.sh: no program named '$arg' (there are: ${PROGRAMS[*]})" >&2
        exit 2
      fi
      chosen+=("$arg") ;;
  esac
done
if ((${#chosen[@]} > 0)); then PROGRAMS=("${chosen[@]}"); fi

CC="${CC:-cc}"
CFLAGS=(-std=gnu11 -Wall -Wextra -Werror -O2)

TMP="$(mktemp -d "${TMPDIR:-/tmp}/ipcshim-demo.XXXXXX")"
clean_up() {
  if ((keep)); then echo "(temporary files kept in $TMP)"; else rm -rf "$TMP"; fi
}
trap clean_up EXIT

# ---- the library and the command -------------------------------------------
echo "== building: cargo build --release"
(cd "$REPO" && cargo build --release)
TARGET="${CARGO_TARGET_DIR:-$REPO/target}"
[[ $TARGET == /* ]] || TARGET="$REPO/$TARGET"     # a relative CARGO_TARGET_DIR
IPCSHIM="$TARGET/release/ipcshim"
if [[ ! -x "$IPCSHIM" ]]; then
  echo "run.sh: $IPCSHIM was not built" >&2
  exit 1
fi
# The command preloads the library built beside it, not one named elsewhere.
unset IPCSHIM_LIB IPCSHIM_NAMESPACE IPCSHIM_DIR LD_PRELOAD

# ---- the programs -----------------------------------------------------------
echo "== compiling with $CC ${CFLAGS[*]}"
BIN="$TMP/bin"
mkdir -p "$BIN"
for prog in "${PROGRAMS[@]}"; do
  "$CC" "${CFLAGS[@]}" -o "$BIN/$prog" "$(source_of "$prog")"
done

# Every shim run uses this one namespace, which must be empty at the end.
NS="$TMP/namespace"
mkdir -p "$NS"

kernel=1
if ! command -v unshare >/dev/null; then
  kernel=0 why="no unshare command (util-linux)"
elif ! unshare --ipc true 2>/dev/null; then
  kernel=0 why="unshare not permitted"
fi
watchdog=()
if command -v timeout >/dev/null; then watchdog=(timeout -k 5 120); fi

# run_one WHERE PROG: runs $BIN/PROG on the kernel or under the shim, in a
# fresh working directory (and TMPDIR), stdout to $TMP/PROG.WHERE.out and
# stderr to $TMP/PROG.WHERE.err; returns the program's exit status.
run_one() {
  local where="$1" prog="$2"
  local dir="$TMP/run/$prog.$where"
  mkdir -p "$dir/tmp"
  local how=()
  if [[ $where == kernel ]]; then
    how=(unshare --ipc)
  else
    how=("$IPCSHIM" run --no-kernel-ipc --dir "$NS" --)
  fi
  (cd "$dir" && TMPDIR="$dir/tmp" "${watchdog[@]}" "${how[@]}" "$BIN/$prog" \
    <"/dev/null" >"$TMP/$prog.$where.out" 2>"$TMP/$prog.$where.err")
}

echo "== each program: $IPCSHIM run --no-kernel-ipc --dir $NS -- PROGRAM"
if ((kernel)); then
  echo "==               and on the kernel: unshare --ipc PROGRAM"
else
  echo "== kernel runs skipped: $why"
fi

failed=()
i=0
for prog in "${PROGRAMS[@]}"; do
  i=$((i + 1))
  echo
  echo "=== [$i/${#PROGRAMS[@]}] $prog: ${DOES[$prog]}"
  if run_one shim "$prog"; then status=0; else status=$?; fi
  sed 's/^/    /' "$TMP/$prog.shim.out"
  if ((status != 0)); then
    echo "--- $prog: FAILED under the shim, exit status $status"
    sed 's/^/    stderr: /' "$TMP/$prog.shim.err"
    failed+=("$prog")
    continue
  fi
  if ((!kernel)); then
    echo "--- $prog: ok under the shim (exit status 0); kernel run skipped: $why"
    continue
  fi
  if run_one kernel "$prog"; then kernel_status=0; else kernel_status=$?; fi
  lines=$(wc -l <"$TMP/$prog.shim.out")
  if ((kernel_status == status)) && cmp -s "$TMP/$prog.kernel.out" "$TMP/$prog.shim.out"; then
    echo "--- $prog: ok: output ($lines lines) and exit status ($status) match the kernel's run"
  else
    echo "--- $prog: DIFFERS from the kernel's run (kernel exit status $kernel_status, shim $status):"
    diff -u --label kernel --label shim "$TMP/$prog.kernel.out" "$TMP/$prog.shim.out" | sed 's/^/    /' || true
    failed+=("$prog")
  fi
done

# ---- what they left ---------------------------------------------------------
echo
echo "=== what the programs left in their namespace"
echo "\$ ipcshim ipcs --dir $NS"
"$IPCSHIM" ipcs --dir "$NS" | tee "$TMP/ipcs.out"
echo "\$ ipcshim namespaces --dir $NS"
"$IPCSHIM" namespaces --dir "$NS"
echo "\$ ls -A $NS"
ls -A "$NS"
# Rows under the section headings are objects; POSIX queues also leave
# anchor files beside the region file.
objects=$(awk '/^------/ || /^(key|name) / || NF == 0 { next } { n++ } END { print n + 0 }' "$TMP/ipcs.out")
strays=$(find "$NS" -mindepth 1 ! -name '*.region' | wc -l)
echo
if ((objects == 0 && strays == 0)); then
  echo "the namespace holds nothing: no queue, segment, semaphore set or POSIX queue, no file but its region"
else
  echo "the namespace is NOT empty: $objects objects, $strays files besides the region"
  failed+=("(namespace left non-empty)")
fi

n=${#PROGRAMS[@]}
if ((${#failed[@]} == 0)); then
  if ((kernel)); then
    echo "all $n programs ran under ipcshim with the kernel's IPC taken away, as on the kernel"
  else
    echo "all $n programs ran under ipcshim with the kernel's IPC taken away (kernel runs skipped)"
  fi
else
  echo "FAILED: ${failed[*]}"
  exit 1
fi

#!/usr/bin/env bash
# demo/run.sh -- the course's IPC programs (System V message queues, shared memory, semaphores; POSIX queues) under ipcshim.
#
#   demo/run.sh                 build libipcshim.so (cargo build --release) and
#                               run every program with
#                               LD_PRELOAD=<repo>/target/release/libipcshim.so
#                               IPCSHIM_DIR=<fresh temporary directory>
#   demo/run.sh --kernel        the same programs on the kernel's System V IPC,
#                               without the shim (for comparison)
#   demo/run.sh [..] NAME...    only the named programs (e.g. buzon tipos)
#   demo/run.sh --keep ...      keep the temporary directory (binaries,
#                               IPCSHIM_DIR of each program) and print its path
#
# Environment: CC (default cc); IPCSHIM_LIB=<path to a libipcshim.so> uses
# that library instead of building one; CARGO_TARGET_DIR is honoured.
#
# Works from any directory.  Exit status 0 only if every program passed.
# Before the programs, a probe (sonda.c) checks where the queues really live,
# so a library that failed to preload cannot pass as the shim.
set -euo pipefail

DEMO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$DEMO_DIR/.." && pwd)"

# The course programs, in the order they are presented, with a one-line title.
PROGRAMAS=(claves tipos almacen buzon cliente_servidor productor_consumidor memoria_compartida cola_posix)
declare -A TITULO=(
  [claves]="ftok(), IPC_PRIVATE, IPC_CREAT/IPC_EXCL, IPC_STAT/IPC_SET/IPC_RMID"
  [tipos]="msgrcv: msgtyp 0, > 0, < 0; mensajes incompletos (E2BIG, MSG_NOERROR)"
  [almacen]="almacenamiento temporal: IPC_NOWAIT, envío/recepción bloqueantes, EIDRM"
  [buzon]="exclusión mutua mediante IPC: buzón mutex con un mensaje \"turno\""
  [cliente_servidor]="petición/respuesta: mtype 1 al servidor, mtype = pid al cliente"
  [productor_consumidor]="productor/consumidor acotado con mensajes VACIO, con sumas de comprobación"
  [memoria_compartida]="servidor/cliente: entrada estándar -> memoria compartida -> salida estándar, con dos semáforos"
  [cola_posix]="colas POSIX: mq_open/mq_send/mq_receive/mq_close, el mensaje más viejo de mayor prioridad primero"
)

# The comment block at the top of this file is the help text.
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; }

modo=shim
keep=0
elegidos=()
for arg in "$@"; do
  case "$arg" in
    --kernel) modo=kernel ;;
    --keep) keep=1 ;;
    -h|--help) usage; exit 0 ;;
    -*) echo "run.sh: unknown option: $arg" >&2; usage >&2; exit 2 ;;
    *)
      if [[ -z "${TITULO[$arg]+x}" ]]; then
        echo "run.sh: no program named '$arg' (there are: ${PROGRAMAS[*]})" >&2
        exit 2
      fi
      elegidos+=("$arg") ;;
  esac
done
if ((${#elegidos[@]} > 0)); then PROGRAMAS=("${elegidos[@]}"); fi

CC="${CC:-cc}"
CFLAGS=(-std=gnu11 -Wall -Wextra -Werror -O2)

TMP="$(mktemp -d "${TMPDIR:-/tmp}/ipcshim-demo.XXXXXX")"
limpiar() {
  if ((keep)); then echo "(temporary files kept in $TMP)"; else rm -rf "$TMP"; fi
}
trap limpiar EXIT

# ---- the library ----------------------------------------------------------
LIB=""
if [[ $modo == shim ]]; then
  if [[ -n "${IPCSHIM_LIB:-}" ]]; then
    LIB="$IPCSHIM_LIB"
    echo "== using IPCSHIM_LIB=$LIB (not building)"
  else
    echo "== building libipcshim.so: cargo build --release"
    (cd "$REPO" && cargo build --release)
    LIB="${CARGO_TARGET_DIR:-$REPO/target}/release/libipcshim.so"
    [[ $LIB == /* ]] || LIB="$REPO/$LIB"     # relative CARGO_TARGET_DIR
  fi
  if [[ ! -f "$LIB" ]]; then
    echo "run.sh: $LIB does not exist" >&2
    exit 1
  fi
  LIB="$(cd "$(dirname "$LIB")" && pwd)/$(basename "$LIB")"
fi

# ---- the programs -----------------------------------------------------------
echo "== compiling with $CC ${CFLAGS[*]}"
BIN="$TMP/bin"
mkdir -p "$BIN"
for prog in sonda "${PROGRAMAS[@]}"; do
  "$CC" "${CFLAGS[@]}" -o "$BIN/$prog" "$DEMO_DIR/$prog.c"
done

# ejecutar NAME ARGS...: run one program from $BIN, under the shim or not, with
# its own TMPDIR (and IPCSHIM_DIR) so that nothing is shared between programs.
ejecutar() {
  local prog="$1"; shift
  local dir
  dir="$(mktemp -d "$TMP/$prog.XXXXXX")"
  mkdir -p "$dir/tmp"
  local entorno=(TMPDIR="$dir/tmp")
  if [[ $modo == shim ]]; then
    mkdir -p "$dir/ipcshim"
    entorno+=(LD_PRELOAD="$LIB" IPCSHIM_DIR="$dir/ipcshim")
  fi
  local vigilante=()
  if command -v timeout >/dev/null; then vigilante=(timeout -k 5 60); fi
  (cd "$BIN" && "${vigilante[@]}" env "${entorno[@]}" "./$prog" "$@")
}

if [[ $modo == shim ]]; then
  donde="under ipcshim"
  echo "== LD_PRELOAD=$LIB IPCSHIM_DIR=<fresh temporary directory per program>"
else
  donde="on the kernel (no shim)"
fi

echo
echo "=== sonda: where do the message queues live?"
if ! ejecutar sonda "$([[ $modo == shim ]] && echo ipcshim || echo nucleo)"; then
  echo "run.sh: the probe failed: the programs would not run $donde" >&2
  exit 1
fi

fallidos=()
i=0
for prog in "${PROGRAMAS[@]}"; do
  i=$((i + 1))
  echo
  echo "=== [$i/${#PROGRAMAS[@]}] $prog -- ${TITULO[$prog]}"
  inicio=$EPOCHREALTIME
  if ejecutar "$prog"; then rc=0; else rc=$?; fi
  fin=$EPOCHREALTIME
  ms=$(( (${fin//[.,]/} - ${inicio//[.,]/}) / 1000 ))   # µs; "," in some locales
  if ((rc == 0)); then
    echo "--- $prog: ok (${ms} ms)"
  else
    echo "--- $prog: FAILED, exit status $rc (${ms} ms)"
    fallidos+=("$prog")
  fi
done

echo
n=${#PROGRAMAS[@]}
if ((${#fallidos[@]} == 0)); then
  echo "all $n course programs ran $donde"
else
  echo "${#fallidos[@]} of $n course programs FAILED $donde: ${fallidos[*]}"
  exit 1
fi

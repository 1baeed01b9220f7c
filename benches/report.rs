//! Not a bench: turns the benches' results into BENCHMARKS.md and its plot.
//!
//!     cargo bench --bench report -- RESULTS [MARKDOWN]
//!
//! RESULTS is the file the benches appended their lines to (env
//! `BENCH_RESULTS`, see `harness/mod.rs`), idle and loaded runs alike.
//! MARKDOWN (default `BENCHMARKS.md` in the package root) gets a table per
//! bench, one row per case, placement and compared side with the idle and
//! the loaded result side by side, and a description of this machine; the
//! plot of the cases compared with the kernel goes beside it, with `.svg`
//! for `.md`.  A bench with another baseline (the shim against itself) gets
//! a table with its sides' names and [`SECTION_NOTES`]' note, and stays out
//! of the plot and of the counts of cases where the shim is faster.  Every line is taken by its keys, so new
//! benches and cases appear without change here.  `benches/regenerate.sh`
//! runs the benches and then this.

use std::collections::HashMap;
use std::ffi::CStr;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use plotters::coord::combinators::{BindKeyPoints, WithKeyPoints};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench report: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    // `cargo bench` passes `--bench`; the rest are the paths.
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let (results, markdown) = match args.as_slice() {
        [results] => (PathBuf::from(results), Path::new(env!("CARGO_MANIFEST_DIR")).join("BENCHMARKS.md")),
        [results, markdown] => (PathBuf::from(results), PathBuf::from(markdown)),
        _ => return Err("usage: cargo bench --bench report -- RESULTS [MARKDOWN]".to_string()),
    };
    let text = fs::read_to_string(&results).map_err(|e| format!("reading {}: {e}", results.display()))?;
    let rows = Row::gather(&text).map_err(|e| format!("{}: {e}", results.display()))?;
    if rows.is_empty() {
        return Err(format!("{}: no results", results.display()));
    }
    let plot = markdown.with_extension("svg");
    let plot_name = plot.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let against_kernel: Vec<&Row> = rows.iter().filter(|r| r.against_kernel()).collect();
    let plotted = !against_kernel.is_empty();
    let page = markdown_page(&rows, &Machine::this(), plotted.then_some(plot_name.as_str()));
    fs::write(&markdown, page).map_err(|e| format!("writing {}: {e}", markdown.display()))?;
    if plotted {
        draw_plot(&against_kernel, &plot).map_err(|e| format!("drawing {}: {e}", plot.display()))?;
        eprintln!("wrote {} and {}", markdown.display(), plot.display());
    } else {
        eprintln!("wrote {} (no case against the kernel to plot)", markdown.display());
    }
    Ok(())
}

/// One line of the results file: one case measured with load on or off.
struct Outcome {
    bench: String,
    case: String,
    placement: String,
    loaded: bool,
    /// Whether the program measured a rate (else a time).
    higher_is_better: bool,
    /// The names of the baseline and of the side compared with it
    /// ("kernel", "shim").
    base: String,
    side: String,
    /// The medians with their unit.
    base_shown: String,
    side_shown: String,
    /// Median, lowest and highest per-round side/baseline ratio.
    ratio: f64,
    min: f64,
    max: f64,
    rounds: String,
    /// Usable CPUs and load processes, where the line says.
    cpus: Option<String>,
    hogs: Option<String>,
    /// The target for the median ratio and whether it was met.
    target: Option<(f64, bool)>,
}

impl Outcome {
    fn parse(line: &str) -> Result<Outcome, String> {
        let fields: HashMap<&str, &str> = line
            .split('\t')
            .map(|f| f.split_once('='))
            .collect::<Option<_>>()
            .ok_or_else(|| format!("a field is not key=value in {line:?}"))?;
        let text = |key: &str| fields.get(key).map(|v| v.to_string()).ok_or_else(|| format!("no {key}"));
        let number = |key: &str| {
            let v = text(key)?;
            v.parse::<f64>()
                .ok()
                .filter(|x| x.is_finite() && *x > 0.0)
                .ok_or_else(|| format!("{key}={v} is no positive number"))
        };
        let choice = |key: &str, yes: &str, no: &str| match text(key)? {
            v if v == yes => Ok(true),
            v if v == no => Ok(false),
            v => Err(format!("{key}={v} is neither {yes} nor {no}")),
        };
        let target = match fields.contains_key("target") {
            true => Some((number("target")?, choice("met", "yes", "no")?)),
            false => None,
        };
        Ok(Outcome {
            bench: text("bench")?,
            case: text("case")?,
            placement: text("placement")?,
            loaded: choice("load", "on", "off")?,
            higher_is_better: choice("better", "higher", "lower")?,
            base: text("base")?,
            side: text("side")?,
            base_shown: text("base_shown")?,
            side_shown: text("side_shown")?,
            ratio: number("ratio")?,
            min: number("min")?,
            max: number("max")?,
            rounds: text("rounds")?,
            cpus: text("cpus").ok(),
            hogs: text("hogs").ok(),
            target,
        })
    }

    /// Whether the shim did better than the kernel (median).
    fn shim_ahead(&self) -> bool {
        (self.ratio > 1.0) == self.higher_is_better
    }

    /// The shim's speed over the kernel's (above 1: shim faster) as median,
    /// lowest and highest over the rounds: the ratio for a rate, its inverse
    /// for a time.
    fn speed(&self) -> (f64, f64, f64) {
        if self.higher_is_better {
            (self.ratio, self.min, self.max)
        } else {
            (1.0 / self.ratio, 1.0 / self.max, 1.0 / self.min)
        }
    }

    /// "kernel | shim | **0.42** (0.40–0.45)": three table cells.
    fn cells(&self) -> String {
        // Two significant digits at least: some targets are 0.01.
        let d = if self.min < 0.1 { 3 } else { 2 };
        format!(
            "{} | {} | **{:.d$}** ({:.d$}–{:.d$})",
            self.base_shown, self.side_shown, self.ratio, self.min, self.max
        )
    }
}

/// A case in one placement on one side, with its idle and its loaded
/// outcome (either may be missing: a run filtered out, or not done).
struct Row {
    bench: String,
    case: String,
    placement: String,
    base: String,
    side: String,
    idle: Option<Outcome>,
    loaded: Option<Outcome>,
}

impl Row {
    /// The rows in the order their cases first appear; a case measured
    /// twice under the same load keeps the later outcome.
    fn gather(text: &str) -> Result<Vec<Row>, String> {
        let mut rows: Vec<Row> = Vec::new();
        for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let o = Outcome::parse(line).map_err(|e| format!("line {}: {e}", n + 1))?;
            let at = match rows.iter().position(|r| r.is_of(&o)) {
                Some(at) => at,
                None => {
                    let (bench, case, placement) = (o.bench.clone(), o.case.clone(), o.placement.clone());
                    let (base, side) = (o.base.clone(), o.side.clone());
                    rows.push(Row { bench, case, placement, base, side, idle: None, loaded: None });
                    rows.len() - 1
                }
            };
            let slot = if o.loaded { &mut rows[at].loaded } else { &mut rows[at].idle };
            *slot = Some(o);
        }
        Ok(rows)
    }

    fn is_of(&self, o: &Outcome) -> bool {
        self.bench == o.bench
            && self.case == o.case
            && self.placement == o.placement
            && self.base == o.base
            && self.side == o.side
    }

    /// Whether the row compares the shim with the kernel (and not other
    /// sides: see [`SECTION_NOTES`]).
    fn against_kernel(&self) -> bool {
        self.base == "kernel" && self.side == "shim"
    }

    fn outcomes(&self) -> impl Iterator<Item = &Outcome> {
        self.idle.iter().chain(self.loaded.iter())
    }

    /// "idle ≤ 0.20 met, loaded ≤ 1.50 **missed**", or "" without a
    /// target (idle and loaded runs may have different targets).
    fn target_cell(&self) -> String {
        let verdicts: Vec<String> = [("idle", &self.idle), ("loaded", &self.loaded)]
            .into_iter()
            .filter_map(|(load, o)| {
                let o = o.as_ref()?;
                let (target, met) = o.target?;
                let bound = if o.higher_is_better { "≥" } else { "≤" };
                Some(format!("{load} {bound} {target:.2} {}", if met { "met" } else { "**missed**" }))
            })
            .collect();
        verdicts.join(", ")
    }
}

/// What the report says about the machine it runs on (the benches ran on
/// it just before).
struct Machine {
    cpu_model: String,
    online_cpus: i64,
    kernel: String,
    date: String,
}

impl Machine {
    fn this() -> Machine {
        let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find_map(|l| {
                l.split_once(':').filter(|(k, _)| k.trim() == "model name").map(|(_, v)| v.trim().to_string())
            })
            .unwrap_or_else(|| "unknown".to_string());
        // SAFETY: sysconf has no preconditions.
        let online_cpus = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) } as i64;
        Machine { cpu_model, online_cpus, kernel: kernel_version(), date: utc_now() }
    }
}

/// "Linux 6.1.0-18-amd64 (x86_64)", from uname(2).
fn kernel_version() -> String {
    // SAFETY: utsname is plain arrays of C chars; uname fills each with a
    // NUL-terminated string on success, and all zeroes is a valid value.
    unsafe {
        let mut u: libc::utsname = std::mem::zeroed();
        if libc::uname(&mut u) != 0 {
            return "unknown".to_string();
        }
        let s = |field: &[libc::c_char]| CStr::from_ptr(field.as_ptr()).to_string_lossy().into_owned();
        format!("{} {} ({})", s(&u.sysname), s(&u.release), s(&u.machine))
    }
}

/// "2026-12-05 15:30 UTC".
fn utc_now() -> String {
    // SAFETY: time accepts a null pointer; gmtime_r writes only into `tm`,
    // for which all zeroes is a valid value.
    unsafe {
        let now = libc::time(std::ptr::null_mut());
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::gmtime_r(&now, &mut tm).is_null() {
            return "unknown".to_string();
        }
        format!(
            "{:04}-{:02}-{:02} {:02}:{:02} UTC",
            tm.tm_year + 1900,
            tm.tm_mon + 1,
            tm.tm_mday,
            tm.tm_hour,
            tm.tm_min
        )
    }
}

/// The distinct values of `field` over every outcome, in first-seen order.
fn distinct<'a>(rows: &'a [Row], field: impl Fn(&'a Outcome) -> Option<&'a str>) -> Vec<&'a str> {
    let mut seen: Vec<&str> = Vec::new();
    for v in rows.iter().flat_map(Row::outcomes).filter_map(field) {
        if !seen.contains(&v) {
            seen.push(v);
        }
    }
    seen
}

/// What a bench compares whose baseline is not the kernel, written under
/// its heading.
const SECTION_NOTES: &[(&str, &str)] = &[
    (
        "ceiling",
        "What is possible: the kernel's queue against a bare ring in shared \
     memory that holds as much (*ring*: one producer, one consumer, a copy \
     in and a copy out per message, nothing else), and the same ring with \
     one `lseek` per call (*ring-fd*: the check that keeps a POSIX queue \
     descriptor a real descriptor).  No user-space msgsnd/msgrcv can pass \
     *ring*, no user-space mq_send/mq_receive with real descriptors \
     *ring-fd*: compare the msg and mq benches' stream rows with these.  \
     Idle only.",
    ),
    (
    "trace",
    "The shim against itself: what call tracing (`IPCSHIM_TRACE`) costs, on \
     the cheapest calls in a loop that never waits.  *untraced* is the \
     library built without the `trace` feature, where a call goes straight \
     to its work; *trace-off* the library as built by default, tracing \
     compiled in but `IPCSHIM_TRACE` unset; *trace-on* the same with \
     `IPCSHIM_TRACE=/dev/null`, a line per call.  Tracing that is off should \
     cost nothing: trace-off/untraced 1 within the spread.",
    ),
];

/// "Kernel" for "kernel": a side's name as a column title begins.
fn title(name: &str) -> String {
    let mut chars = name.chars();
    chars.next().map_or_else(String::new, |c| c.to_uppercase().chain(chars).collect())
}

fn markdown_page(rows: &[Row], machine: &Machine, plot: Option<&str>) -> String {
    let mut md = String::new();
    let rounds = distinct(rows, |o| Some(&o.rounds));
    let rounds_setting = rounds.first().copied().unwrap_or("7");
    let rounds = rounds.join(" or ");
    let usable = distinct(rows, |o| o.cpus.as_deref()).join(" or ");
    let hogs = distinct(rows, |o| o.hogs.as_deref().filter(|&h| h != "0")).join(" or ");
    let hogs = if hogs.is_empty() { hogs } else { format!(", {hogs} in all") };
    let written = plot.map_or_else(|| "this file".to_string(), |p| format!("this file and [{p}]({p})"));
    let _ = write!(
        md,
        "# Benchmarks: ipcshim vs the kernel

Generated; do not edit.  Regenerate with

    BENCH_ROUNDS={rounds_setting} benches/regenerate.sh

which builds the release library, runs every bench idle and then with
`BENCH_LOAD=1`, and writes {written}.

Each case runs its C program (`benches/c/`) on the kernel and under the shim
(`LD_PRELOAD`) in turn, alternating which goes first, once per round.  A
ratio is shim/kernel of what the program measures: a time per operation
(lower is better: below 1 the shim is faster) or a rate (higher is better:
above 1 the shim is faster).  Shown are the medians of each side and the
median ratio with its lowest and highest per-round value.  *Loaded* runs
compete with one busy-looping process per online CPU, started before and
killed after every single run, kernel and shim alike.
"
    );
    if rows.iter().any(|r| !r.against_kernel()) {
        let _ = write!(
            md,
            "
A bench that compares other sides (`ceiling`: the kernel against bare
rings; `trace`: the shim against other builds or settings of itself) does
it the same way, each side going first in turn; its table names the
sides, its ratios are side/baseline, and it is left out of the counts and
the plot below.
"
        );
    }
    let _ = write!(
        md,
        "
| Machine | |
| --- | --- |
| CPU | {} |
| CPUs | {} online; the benches may use {usable} |
| Kernel | {} |
| Date | {} |
| Rounds | {rounds} per case |
| Load | idle: none added; loaded: a busy-looping process per online CPU{hogs} |

",
        machine.cpu_model, machine.online_cpus, machine.kernel, machine.date
    );
    let against_kernel = || rows.iter().filter(|r| r.against_kernel());
    let idle: Vec<&Outcome> = against_kernel().filter_map(|r| r.idle.as_ref()).collect();
    let loaded: Vec<&Outcome> = against_kernel().filter_map(|r| r.loaded.as_ref()).collect();
    for (load, measured) in [("idle", idle), ("loaded", loaded)] {
        if !measured.is_empty() {
            let ahead = measured.iter().filter(|o| o.shim_ahead()).count();
            let _ = writeln!(md, "- {load}: the shim is faster in {ahead} of {} cases", measured.len());
        }
    }
    if let Some(plot) = plot {
        let _ = writeln!(md, "\n![shim speed relative to the kernel per case]({plot})");
    }
    let mut benches: Vec<&str> = Vec::new();
    for r in rows {
        if !benches.contains(&r.bench.as_str()) {
            benches.push(&r.bench);
        }
    }
    for bench in benches {
        let of_bench: Vec<&Row> = rows.iter().filter(|r| r.bench == bench).collect();
        if of_bench.iter().all(|r| r.against_kernel()) {
            kernel_section(&mut md, bench, &of_bench);
        } else {
            self_section(&mut md, bench, &of_bench);
        }
    }
    md
}

/// A bench's cells for the "better" column and the idle and loaded results.
fn result_cells(r: &Row) -> (&'static str, String, String) {
    let better = r.outcomes().next().map_or("", |o| if o.higher_is_better { "higher" } else { "lower" });
    let cells = |o: &Option<Outcome>| o.as_ref().map_or_else(|| "– | – | –".to_string(), Outcome::cells);
    (better, cells(&r.idle), cells(&r.loaded))
}

/// The table of a bench that compares the shim with the kernel.
fn kernel_section(md: &mut String, bench: &str, rows: &[&Row]) {
    let _ = write!(
        md,
        "\n## {bench}\n\n\
         | Case | Placement | Better | Kernel idle | Shim idle | Shim/kernel idle | Kernel loaded | Shim loaded | Shim/kernel loaded | Target |\n\
         | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n"
    );
    for r in rows {
        let (better, idle, loaded) = result_cells(r);
        let _ = writeln!(md, "| {} | {} | {better} | {idle} | {loaded} | {} |", r.case, r.placement, r.target_cell());
    }
}

/// The table of a bench that compares the shim with itself: a row per case,
/// placement and side compared with the baseline, whose name (the first
/// row's) heads the columns; a target column only if some case has one.
fn self_section(md: &mut String, bench: &str, rows: &[&Row]) {
    let _ = writeln!(md, "\n## {bench}\n");
    if let Some((_, note)) = SECTION_NOTES.iter().find(|(b, _)| *b == bench) {
        let _ = writeln!(md, "{note}\n");
    }
    let base = rows.first().map_or("baseline", |r| r.base.as_str());
    let (title, targets) = (title(base), rows.iter().any(|r| !r.target_cell().is_empty()));
    let _ = writeln!(
        md,
        "| Case | Placement | Better | Side | {title} idle | Side idle | Side/{base} idle | {title} loaded | Side loaded | Side/{base} loaded |{}\n\
         | --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |{}",
        if targets { " Target |" } else { "" },
        if targets { " --- |" } else { "" },
    );
    for r in rows {
        let (better, idle, loaded) = result_cells(r);
        let target = if targets { format!(" {} |", r.target_cell()) } else { String::new() };
        let _ = writeln!(md, "| {} | {} | {better} | {} | {idle} | {loaded} |{target}", r.case, r.placement, r.side);
    }
}

/// Bar colours: idle, loaded.
const IDLE: RGBColor = RGBColor(31, 119, 180);
const LOADED: RGBColor = RGBColor(230, 120, 20);
/// Pixels per case row, and for the case names left of the plot.
const ROW_HEIGHT: u32 = 34;
const NAMES_WIDTH: u32 = 250;

/// A horizontal bar per case and load: the shim's speed over the kernel's
/// on a log scale, from the kernel's line at 1 (right: shim faster), with a
/// whisker over the rounds' spread and the median written at its end.
fn draw_plot(rows: &[&Row], path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let n = rows.len();
    let speeds = rows.iter().flat_map(|r| r.outcomes()).map(Outcome::speed);
    let (lo, hi) = speeds.fold((1.0f64, 1.0f64), |(lo, hi), (_, min, max)| (lo.min(min), hi.max(max)));
    // Room for the numbers written beside the bars.
    let (lo, hi) = (lo / 1.8, hi * 1.8);
    let ticks: Vec<f64> =
        (-3..4).flat_map(|e| [1.0, 2.0, 5.0].map(|m| m * 10f64.powi(e))).filter(|t| (lo..=hi).contains(t)).collect();

    let root = SVGBackend::new(path, (1100, 150 + ROW_HEIGHT * n as u32)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption("ipcshim vs the kernel: shim speed relative to the kernel", ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(50)
        .y_label_area_size(NAMES_WIDTH)
        // Row i (from the top) is centred on y = n - 1 - i; the top row of
        // space above the cases holds the legend.
        .build_cartesian_2d((lo..hi).log_scale().with_key_points(ticks), -0.6..n as f64 + 0.6)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(0)
        .x_label_formatter(&|v| format!("{v}×"))
        .x_desc("shim speed ÷ kernel speed, log scale (kernel time ÷ shim time, or shim rate ÷ kernel rate)")
        .label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 15))
        .draw()?;

    let top = n as f64 - 0.5;
    for (i, row) in rows.iter().enumerate() {
        let y = (n - 1 - i) as f64;
        // A line between benches.
        if i > 0 && rows[i - 1].bench != row.bench {
            chart.draw_series([PathElement::new([(lo, y + 0.5), (hi, y + 0.5)], BLACK.mix(0.3))])?;
        }
        let (x, py) = chart.backend_coord(&(lo, y));
        let name = format!("{}: {} {}", row.bench, row.case, row.placement);
        root.draw(&Text::new(name, (x - 10, py), label_style(14, HPos::Right, VPos::Center)))?;
        for (outcome, colour, offset) in [(&row.idle, IDLE, 0.19), (&row.loaded, LOADED, -0.19)] {
            if let Some(o) = outcome {
                draw_bar(&mut chart, o.speed(), y + offset, colour)?;
            }
        }
    }
    chart.draw_series([PathElement::new([(1.0, -0.6), (1.0, top)], BLACK.stroke_width(2))])?;
    let (x, y) = chart.backend_coord(&(1.0, top + 0.1));
    root.draw(&Text::new("kernel", (x, y), label_style(14, HPos::Center, VPos::Bottom)))?;
    root.draw(&Text::new("← kernel faster", (x - 32, y), label_style(12, HPos::Right, VPos::Bottom)))?;
    root.draw(&Text::new("shim faster →", (x + 32, y), label_style(12, HPos::Left, VPos::Bottom)))?;
    for (k, (label, colour)) in [("idle", IDLE), ("loaded (a busy process per CPU)", LOADED)].into_iter().enumerate() {
        let (x, y) = chart.backend_coord(&(lo, top + 0.8));
        let x = x + 20 + 120 * k as i32;
        root.draw(&Rectangle::new([(x, y - 6), (x + 14, y + 6)], colour.filled()))?;
        root.draw(&Text::new(label, (x + 20, y), label_style(14, HPos::Left, VPos::Center)))?;
    }
    root.present()?;
    Ok(())
}

type Chart<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<WithKeyPoints<LogCoord<f64>>, RangedCoordf64>>;

/// One bar centred on `y`: from 1 to the median speed, a whisker over the
/// spread, and the median written beyond the whisker's outer end.
fn draw_bar(
    chart: &mut Chart,
    (median, min, max): (f64, f64, f64),
    y: f64,
    colour: RGBColor,
) -> Result<(), Box<dyn std::error::Error>> {
    let half = 0.16;
    chart.draw_series([Rectangle::new([(1.0, y - half), (median, y + half)], colour.filled())])?;
    chart.draw_series([
        PathElement::new([(min, y), (max, y)], BLACK),
        PathElement::new([(min, y - half / 2.0), (min, y + half / 2.0)], BLACK),
        PathElement::new([(max, y - half / 2.0), (max, y + half / 2.0)], BLACK),
    ])?;
    let (at, anchor) = if median >= 1.0 { (max * 1.04, HPos::Left) } else { (min / 1.04, HPos::Right) };
    let label = if median >= 10.0 { format!("{median:.0}×") } else { format!("{median:.2}×") };
    chart.draw_series([Text::new(label, (at, y), label_style(12, anchor, VPos::Center))])?;
    Ok(())
}

/// Sans-serif text of `size` pixels anchored at its given point by `h`, `v`.
fn label_style(size: u32, h: HPos, v: VPos) -> TextStyle<'static> {
    TextStyle::from(("sans-serif", size).into_font()).pos(Pos::new(h, v))
}

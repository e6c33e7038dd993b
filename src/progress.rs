//! Progress on stderr: a bar on a terminal (bytes done / total, rate, ETA, current file), or
//! with `--progress` and no terminal, one plain line every 10 seconds for a log file.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{RecvTimeoutError, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use indicatif::{HumanBytes, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::error::display_bytes;

/// How often the plain (non-terminal) report is printed.
const PLAIN_EVERY: Duration = Duration::from_secs(10);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Off,
    Bar,
    Plain,
}

impl Mode {
    /// `flag` is `Some(true)` for `--progress`, `Some(false)` for `--no-progress`.
    pub fn choose(flag: Option<bool>) -> Mode {
        let terminal = std::io::stderr().is_terminal();
        match (flag, terminal) {
            (Some(false), _) => Mode::Off,
            (_, true) => Mode::Bar,
            (Some(true), false) => Mode::Plain,
            (None, false) => Mode::Off,
        }
    }
}

struct Counters {
    tool: &'static str,
    files: AtomicU64,
    bytes: AtomicU64,
    start: Instant,
}

impl Counters {
    fn plain_line(&self) -> String {
        let bytes = self.bytes.load(Ordering::Relaxed);
        let secs = self.start.elapsed().as_secs_f64().max(1e-3);
        format!(
            "{}: {} files, {}, {}/s",
            self.tool,
            self.files.load(Ordering::Relaxed),
            HumanBytes(bytes),
            HumanBytes((bytes as f64 / secs) as u64)
        )
    }
}

/// A progress report shared by the worker threads of one tool.
pub struct Progress {
    counters: Arc<Counters>,
    bar: Option<ProgressBar>,
    plain: Mutex<Option<(Sender<()>, JoinHandle<()>)>>,
}

impl Progress {
    pub fn new(tool: &'static str, mode: Mode) -> Progress {
        let counters = Arc::new(Counters {
            tool,
            files: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            start: Instant::now(),
        });
        let bar = (mode == Mode::Bar).then(|| {
            let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template(
                "{bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta} {wide_msg}",
            )
            .expect("the template is valid");
            bar.set_style(style);
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        let plain = (mode == Mode::Plain).then(|| {
            let (stop_tx, stop_rx) = channel::<()>();
            let counters = Arc::clone(&counters);
            let handle = thread::spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = stop_rx.recv_timeout(PLAIN_EVERY) {
                    let _ = writeln!(std::io::stderr(), "{}", counters.plain_line());
                }
            });
            (stop_tx, handle)
        });
        Progress { counters, bar, plain: Mutex::new(plain) }
    }

    /// Adds the size of the file at `path` to the bytes still to do, as a stream of paths is
    /// read ahead. Only a bar shows a total, so only then is the file looked at.
    pub fn add_to_total(&self, path: &Path) {
        if let Some(bar) = &self.bar
            && let Ok(meta) = std::fs::metadata(path)
        {
            bar.inc_length(meta.len());
        }
    }

    pub fn add_bytes(&self, bytes: u64) {
        self.counters.bytes.fetch_add(bytes, Ordering::Relaxed);
        if let Some(bar) = &self.bar {
            bar.inc(bytes);
        }
    }

    pub fn start_file(&self, name: &[u8]) {
        if let Some(bar) = &self.bar {
            bar.set_message(display_bytes(name));
        }
    }

    pub fn finish_file(&self) {
        self.counters.files.fetch_add(1, Ordering::Relaxed);
    }

    /// Removes the bar, or stops the plain reporter after a last line.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        if let Some((stop, handle)) = self.plain.lock().expect("not poisoned").take() {
            drop(stop);
            let _ = handle.join();
            let _ = writeln!(std::io::stderr(), "{}", self.counters.plain_line());
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

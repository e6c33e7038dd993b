//! Temporaries that must not outlive an interrupted run, and the SIGINT/SIGTERM handling that
//! removes them.
//!
//! A temporary is registered before it is created and deregistered once renamed into place.
//! SIGINT and SIGTERM are blocked in every thread and taken by one thread with `sigwait`,
//! which removes what is registered and exits with 128 + the signal number (130, 143).

use std::collections::HashMap;
use std::ffi::CString;
use std::os::fd::RawFd;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// What is removed on a signal: directory, name, and whether it counts as a temporary (a
/// lock file is removed too, but is not one).
type Entry = (RawFd, CString, bool);

static LIVE: Mutex<Option<HashMap<u64, Entry>>> = Mutex::new(None);
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// A registered temporary; dropping it deregisters it (it does not remove the file).
/// The directory descriptor must stay open while the guard lives.
pub struct Registered {
    id: u64,
}

/// Registers the temporary `dir`/`name` for removal if the run is interrupted.
pub fn register(dir: RawFd, name: &[u8]) -> Registered {
    register_as(dir, name, true)
}

/// Registers a lock file for removal if the run is interrupted.
pub fn register_lock(dir: RawFd, name: &[u8]) -> Registered {
    register_as(dir, name, false)
}

fn register_as(dir: RawFd, name: &[u8], temporary: bool) -> Registered {
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let name = CString::new(name).expect("names have no NUL");
    LIVE.lock().expect("not poisoned").get_or_insert_with(HashMap::new).insert(id, (dir, name, temporary));
    Registered { id }
}

impl Drop for Registered {
    fn drop(&mut self) {
        if let Some(live) = LIVE.lock().expect("not poisoned").as_mut() {
            live.remove(&self.id);
        }
    }
}

/// Blocks SIGINT and SIGTERM in this thread (and so in every thread spawned after) and starts
/// the thread that handles them; `hint` ends its message (what a rerun does). Call before
/// spawning any other thread.
pub fn handle_signals(tool: &'static str, hint: &'static str) {
    // SAFETY: sigset operations on a local set; pthread_sigmask on the calling thread.
    let set = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    };
    std::thread::spawn(move || {
        let mut signal = 0;
        // SAFETY: set holds the blocked signals; sigwait stores the one taken.
        unsafe { libc::sigwait(&set, &mut signal) };
        // Held until exit: no temporary can be registered (so created) after this point.
        let mut live = LIVE.lock().unwrap_or_else(|e| e.into_inner());
        let mut removed = 0;
        for (dir, name, temporary) in live.take().unwrap_or_default().into_values() {
            // SAFETY: dir is open while registered; name is a valid C string.
            if unsafe { libc::unlinkat(dir, name.as_ptr(), 0) } == 0 && temporary {
                removed += 1;
            }
        }
        let what = if signal == libc::SIGINT { "interrupted" } else { "terminated" };
        eprintln!("{tool}: {what}; removed {removed} temporary file(s){hint}");
        std::process::exit(128 + signal);
    });
}

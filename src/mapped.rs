//! Reading a file through a memory map without dying of a read error.
//!
//! A read error inside a mapped file (a failing sector on a USB disk) raises SIGBUS, which
//! would end the process. Each live map is registered in a fixed table; the SIGBUS handler
//! looks the faulting address up, maps a page of zeros over it so the hashing can go on, and
//! marks the map as faulted. The caller then reports the file as unreadable (EIO) and the rest
//! of the run goes on. A fault outside every registered map keeps SIGBUS's default action.

use std::fs::File;
use std::io;
use std::sync::Once;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use memmap2::{Mmap, MmapOptions};

const SLOTS: usize = 256;

struct Slot {
    start: AtomicUsize,
    len: AtomicUsize,
    faulted: AtomicBool,
    in_use: AtomicBool,
}

#[allow(clippy::declare_interior_mutable_const)] // a template to fill the table, not shared
const FREE: Slot = Slot {
    start: AtomicUsize::new(0),
    len: AtomicUsize::new(0),
    faulted: AtomicBool::new(false),
    in_use: AtomicBool::new(false),
};
static TABLE: [Slot; SLOTS] = [FREE; SLOTS];
static PAGE: AtomicUsize = AtomicUsize::new(4096);
static INSTALL: Once = Once::new();

/// A read-only map of a whole file, registered with the SIGBUS handler while it lives.
pub struct GuardedMap {
    map: Mmap,
    slot: usize,
}

impl GuardedMap {
    /// Maps `len` bytes of `file`. `Ok(None)` when every slot is taken (read the file instead).
    pub fn new(file: &File, len: usize) -> io::Result<Option<GuardedMap>> {
        INSTALL.call_once(install_handler);
        let Some(slot) = (0..SLOTS).find(|&i| {
            TABLE[i].in_use.compare_exchange(false, true, Ordering::AcqRel, Ordering::Relaxed).is_ok()
        }) else {
            return Ok(None);
        };
        // SAFETY: a private read-only map; a file truncated or unreadable under it raises
        // SIGBUS, which the handler turns into a "faulted" mark for this slot. No MAP_POPULATE:
        // on a bad sector it retries in the kernel without end (seen on FUSE).
        let map = match unsafe { MmapOptions::new().len(len).map(file) } {
            Ok(map) => map,
            Err(e) => {
                TABLE[slot].in_use.store(false, Ordering::Release);
                return Err(e);
            }
        };
        let entry = &TABLE[slot];
        entry.faulted.store(false, Ordering::Relaxed);
        entry.len.store(map.len(), Ordering::Relaxed);
        entry.start.store(map.as_ptr() as usize, Ordering::Release);
        Ok(Some(GuardedMap { map, slot }))
    }

    pub fn bytes(&self) -> &[u8] {
        &self.map
    }

    /// True once any page of the map could not be read: its bytes were replaced by zeros.
    pub fn faulted(&self) -> bool {
        TABLE[self.slot].faulted.load(Ordering::Acquire)
    }
}

impl Drop for GuardedMap {
    fn drop(&mut self) {
        let entry = &TABLE[self.slot];
        entry.start.store(0, Ordering::Release);
        entry.len.store(0, Ordering::Release);
        entry.in_use.store(false, Ordering::Release);
    }
}

fn install_handler() {
    // SAFETY: sysconf and sigaction with a handler that only uses async-signal-safe calls.
    unsafe {
        let page = libc::sysconf(libc::_SC_PAGESIZE);
        if page > 0 {
            PAGE.store(page as usize, Ordering::Relaxed);
        }
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_sigbus as *const () as usize;
        action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(libc::SIGBUS, &action, std::ptr::null_mut());
    }
}

extern "C" fn on_sigbus(_signal: libc::c_int, info: *mut libc::siginfo_t, _context: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo for SA_SIGINFO handlers.
    let addr = unsafe { (*info).si_addr() } as usize;
    for entry in &TABLE {
        let start = entry.start.load(Ordering::Acquire);
        let len = entry.len.load(Ordering::Acquire);
        if start != 0 && addr >= start && addr < start + len {
            let page = addr & !(PAGE.load(Ordering::Relaxed) - 1);
            // SAFETY: the page lies inside a live map of ours; a fixed anonymous map of zeros
            // replaces it, and the map's munmap later covers it too.
            let zeros = unsafe {
                libc::mmap(
                    page as *mut libc::c_void,
                    PAGE.load(Ordering::Relaxed),
                    libc::PROT_READ,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                    -1,
                    0,
                )
            };
            if zeros != libc::MAP_FAILED {
                entry.faulted.store(true, Ordering::Release);
                return;
            }
        }
    }
    // Not ours: the default action (the faulting access runs again and ends the process).
    // SAFETY: signal() is async-signal-safe.
    unsafe { libc::signal(libc::SIGBUS, libc::SIG_DFL) };
}

//! Parallel work with output in input order, and a bounded reorder window.
//!
//! `jobs` workers take inputs from a shared iterator, and whichever worker completes the
//! oldest outstanding input hands it, and any later results already waiting, to `sink`. No
//! thread sits between them, so a small file costs no hand-off. A worker may run at most
//! `WINDOW` inputs ahead of the sink: memory stays bounded whatever the length of the stream.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};
use std::thread;

/// How many results may wait for an earlier, slower one.
pub const WINDOW: usize = 4096;

struct Output<R, S, E> {
    next: usize,
    pending: BTreeMap<usize, R>,
    sink: S,
    error: Option<E>,
    /// Workers waiting for room in the window (notify only then: a wake-up is a syscall).
    waiting: usize,
}

/// Runs `work` over `inputs` on `jobs` threads and feeds the results to `sink` in input order.
/// Stops early, returning the error, when `sink` fails (a broken pipe, say).
pub fn run_in_order<T, R, E, S>(
    jobs: usize,
    inputs: impl Iterator<Item = T> + Send,
    work: impl Fn(T) -> R + Sync,
    sink: S,
) -> Result<(), E>
where
    T: Send,
    R: Send,
    E: Send,
    S: FnMut(R) -> Result<(), E> + Send,
{
    let input = Mutex::new(inputs.enumerate());
    let output = Mutex::new(Output { next: 0, pending: BTreeMap::new(), sink, error: None, waiting: 0 });
    let room = Condvar::new();
    let stop = AtomicBool::new(false);
    let worker = || {
        while !stop.load(Ordering::Relaxed) {
            let Some((index, item)) = input.lock().expect("no panic while held").next() else { return };
            {
                let mut out = output.lock().expect("no panic while held");
                while index >= out.next + WINDOW && !stop.load(Ordering::Relaxed) {
                    out.waiting += 1;
                    out = room.wait(out).expect("no panic while held");
                    out.waiting -= 1;
                }
            }
            let result = work(item);
            let mut out = output.lock().expect("no panic while held");
            if out.error.is_some() {
                return; // the sink failed: nothing more goes to it
            }
            out.pending.insert(index, result);
            let before = out.next;
            while let Some(result) = {
                let next = out.next;
                out.pending.remove(&next)
            } {
                out.next += 1;
                if let Err(e) = (out.sink)(result) {
                    out.error = Some(e);
                    stop.store(true, Ordering::Relaxed);
                    room.notify_all();
                    return;
                }
            }
            if out.next != before && out.waiting > 0 {
                room.notify_all();
            }
        }
    };
    thread::scope(|scope| {
        for _ in 1..jobs.max(1) {
            scope.spawn(worker);
        }
        worker();
    });
    match output.into_inner().expect("no panic while held").error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn results_come_in_input_order_whatever_the_timing() {
        let mut seen = Vec::new();
        let work = |i: u64| {
            thread::sleep(Duration::from_micros((i * 7919) % 500));
            i * 10
        };
        run_in_order(8, 0..500u64, work, |r| {
            seen.push(r);
            Ok::<_, ()>(())
        })
        .unwrap();
        assert_eq!(seen, (0..500).map(|i| i * 10).collect::<Vec<_>>());
    }

    #[test]
    fn a_failing_sink_stops_the_run() {
        let mut count = 0;
        let result = run_in_order(
            4,
            0..1_000_000u64,
            |i| i,
            |_| {
                count += 1;
                if count == 10 { Err("closed") } else { Ok(()) }
            },
        );
        assert_eq!(result, Err("closed"));
        assert_eq!(count, 10);
    }

    #[test]
    fn the_producer_stays_within_the_window() {
        use std::sync::atomic::AtomicUsize;
        let produced = AtomicUsize::new(0);
        let inputs = (0..100_000usize).inspect(|_| {
            produced.fetch_add(1, Ordering::SeqCst);
        });
        let produced_ref = &produced;
        run_in_order(
            2,
            inputs,
            |i| i,
            |i| {
                let ahead = produced_ref.load(Ordering::SeqCst) - i;
                assert!(ahead <= WINDOW + 2, "producer ran {ahead} items ahead");
                Ok::<_, ()>(())
            },
        )
        .unwrap();
    }
}

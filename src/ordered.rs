//! Parallel work with output in input order, and a bounded reorder window.
//!
//! A producer thread reads inputs, `jobs` workers process them, and the calling thread hands the
//! results to `sink` in input order. The producer may run at most `window` items ahead of the
//! sink, so memory stays bounded whatever the length of the stream.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread;

/// How many results may wait for an earlier, slower one.
pub const WINDOW: usize = 4096;

/// Runs `work` over `inputs` on `jobs` threads and feeds the results to `sink` in input order.
/// Stops early, returning the error, when `sink` fails (a broken pipe, say).
pub fn run_in_order<T, R, E>(
    jobs: usize,
    inputs: impl Iterator<Item = T> + Send,
    work: impl Fn(T) -> R + Sync,
    mut sink: impl FnMut(R) -> Result<(), E>,
) -> Result<(), E>
where
    T: Send,
    R: Send,
{
    let jobs = jobs.max(1);
    let stop = AtomicBool::new(false);
    thread::scope(|scope| {
        let (ticket_tx, ticket_rx) = sync_channel::<()>(WINDOW);
        for _ in 0..WINDOW {
            ticket_tx.send(()).expect("window fits the channel");
        }
        let (task_tx, task_rx) = sync_channel::<(usize, T)>(jobs * 2);
        let task_rx = Arc::new(Mutex::new(task_rx));
        let (result_tx, result_rx) = channel::<(usize, R)>();

        scope.spawn(move || {
            for (index, input) in inputs.enumerate() {
                if ticket_rx.recv().is_err() || task_tx.send((index, input)).is_err() {
                    return;
                }
            }
        });
        for _ in 0..jobs {
            let task_rx = Arc::clone(&task_rx);
            let result_tx = result_tx.clone();
            let (work, stop) = (&work, &stop);
            scope.spawn(move || {
                loop {
                    let next = task_rx.lock().expect("no worker panics holding it").recv();
                    let Ok((index, input)) = next else { return };
                    if stop.load(Ordering::Relaxed) || result_tx.send((index, work(input))).is_err() {
                        return;
                    }
                }
            });
        }
        drop(result_tx);

        let mut pending = BTreeMap::new();
        let mut next = 0;
        let mut outcome = Ok(());
        'results: for (index, result) in result_rx.iter() {
            pending.insert(index, result);
            while let Some(result) = pending.remove(&next) {
                next += 1;
                if let Err(e) = sink(result) {
                    outcome = Err(e);
                    break 'results;
                }
                let _ = ticket_tx.send(());
            }
        }
        // Unblock and end every thread before the scope joins them.
        stop.store(true, Ordering::Relaxed);
        drop(ticket_tx);
        drop(result_rx);
        outcome
    })
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
        let result = run_in_order(4, 0..1_000_000u64, |i| i, |_| {
            count += 1;
            if count == 10 { Err("closed") } else { Ok(()) }
        });
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
        run_in_order(2, inputs, |i| i, |i| {
            let ahead = produced_ref.load(Ordering::SeqCst) - i;
            assert!(ahead <= WINDOW + 2, "producer ran {ahead} items ahead");
            Ok::<_, ()>(())
        })
        .unwrap();
    }
}

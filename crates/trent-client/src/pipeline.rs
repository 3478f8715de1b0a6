//! Batches of frames processed on every core, their results consumed in
//! order: one thread produces (reads), `threads` workers seal or open, the
//! caller's thread consumes (writes). Channels are bounded, so memory is a
//! few batches per worker whatever the input's size.

use std::collections::BTreeMap;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};

use crate::Result;

/// Runs `produce` until it returns `None` or fails, `work` on each batch in
/// parallel, and `consume` on the results in the order produced. The first
/// failure in that order ends the run and is returned; nothing after it is
/// consumed.
pub(crate) fn run<J: Send, O: Send>(
    threads: usize,
    produce: impl FnMut() -> Result<Option<J>> + Send,
    work: impl Fn(J) -> Result<O> + Sync,
    mut consume: impl FnMut(O) -> Result<()>,
) -> Result<()> {
    let threads = threads.max(1);
    let (jobs_tx, jobs_rx) = sync_channel::<(u64, J)>(threads);
    let jobs_rx = Arc::new(Mutex::new(jobs_rx));
    let (done_tx, done_rx) = sync_channel::<(u64, Result<O>)>(threads * 2);
    std::thread::scope(|scope| {
        let producer_done = done_tx.clone();
        scope.spawn(move || producer(produce, jobs_tx, producer_done));
        for _ in 0..threads {
            let jobs = Arc::clone(&jobs_rx);
            let done = done_tx.clone();
            let work = &work;
            scope.spawn(move || worker(&jobs, &done, work));
        }
        drop(done_tx);
        drop(jobs_rx);
        consumer(done_rx, &mut consume)
    })
}

fn producer<J>(
    mut produce: impl FnMut() -> Result<Option<J>>,
    jobs: SyncSender<(u64, J)>,
    done: SyncSender<(u64, Result<impl Send>)>,
) {
    for index in 0.. {
        match produce() {
            Ok(Some(job)) => {
                if jobs.send((index, job)).is_err() {
                    return;
                }
            }
            Ok(None) => return,
            Err(e) => {
                let _ = done.send((index, Err(e)));
                return;
            }
        }
    }
}

fn worker<J, O>(
    jobs: &Mutex<Receiver<(u64, J)>>,
    done: &SyncSender<(u64, Result<O>)>,
    work: &(impl Fn(J) -> Result<O> + Sync),
) {
    loop {
        let next = match jobs.lock() {
            Ok(jobs) => jobs.recv(),
            Err(_) => return,
        };
        let Ok((index, job)) = next else { return };
        if done.send((index, work(job))).is_err() {
            return;
        }
    }
}

/// Consumes in order; returning drops the receiver, which stops the
/// workers, whose exit stops the producer.
fn consumer<O>(
    done: Receiver<(u64, Result<O>)>,
    consume: &mut impl FnMut(O) -> Result<()>,
) -> Result<()> {
    let mut next = 0;
    let mut early = BTreeMap::new();
    for (index, result) in done {
        early.insert(index, result);
        while let Some(result) = early.remove(&next) {
            consume(result?)?;
            next += 1;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;

    #[test]
    fn results_are_consumed_in_order_whatever_the_workers_do() {
        for threads in [1, 2, 7] {
            let mut n = 0u64;
            let mut seen = Vec::new();
            run(
                threads,
                || {
                    n += 1;
                    Ok((n <= 200).then_some(n))
                },
                |j| {
                    if j % 3 == 0 {
                        std::thread::sleep(std::time::Duration::from_micros(200));
                    }
                    Ok(j * 2)
                },
                |o| {
                    seen.push(o);
                    Ok(())
                },
            )
            .unwrap();
            assert_eq!(seen, (1..=200).map(|j| j * 2).collect::<Vec<_>>());
        }
    }

    #[test]
    fn the_first_failure_in_order_wins_and_nothing_after_it_is_consumed() {
        let mut n = 0u64;
        let mut seen = Vec::new();
        let err = run(
            2,
            || {
                n += 1;
                if n == 50 {
                    return Err(Error::Malformed("producer".into()));
                }
                Ok(Some(n))
            },
            |j| {
                if j == 20 {
                    Err(Error::Authentication("worker"))
                } else {
                    Ok(j)
                }
            },
            |o| {
                seen.push(o);
                Ok(())
            },
        )
        .unwrap_err();
        assert!(matches!(err, Error::Authentication("worker")));
        assert_eq!(seen, (1..20).collect::<Vec<_>>());
    }
}

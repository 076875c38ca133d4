//! Where the search gets its time from.
//!
//! The solver runs inside a wasm32-wasip2 component as well as natively, and its tests must
//! check the time budget exactly, so the core never reads the OS clock itself: it asks an
//! injected [`Clock`]. [`MonotonicClock`] wraps `std::time::Instant` (which wasip2 maps to
//! its monotonic clock); [`StepClock`] is a deterministic fake for tests; [`PacedClock`]
//! spaces out the search's reads of either.

use std::cell::Cell;
use std::time::Instant;

pub trait Clock {
    /// Seconds since an arbitrary, fixed origin; never decreases.
    fn now_secs(&self) -> f64;
}

pub struct MonotonicClock {
    origin: Instant,
}

impl MonotonicClock {
    pub fn new() -> Self {
        Self {
            origin: Instant::now(),
        }
    }
}

impl Default for MonotonicClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for MonotonicClock {
    fn now_secs(&self) -> f64 {
        self.origin.elapsed().as_secs_f64()
    }
}

/// Reads a [`Clock`] once every `stride` calls rather than at every call, with the stride
/// adapted so that reads fall about `interval` seconds apart; the calls in between get the
/// time of the latest read.
///
/// Why: the search checks its budget at every iteration, and in the module build a clock
/// read is a call out of the sandbox into the host (WASI's monotonic clock), many times the
/// cost of the native vDSO call: on Solomon-size instances an iteration is short enough for
/// a read at every one to show in the module's time. A budget then ends at most about `interval` late while calls
/// take about as long as the ones before (after a sudden slowdown by a factor k, k times
/// that once, while the stride comes down). A clock whose reads are already `interval` or
/// more apart (slow iterations, or [`StepClock`] with a large step) is read at every call.
pub struct PacedClock<'a> {
    clock: &'a dyn Clock,
    interval: f64,
    stride: u64,
    /// Calls left before the next read.
    skip: u64,
    last: f64,
}

impl<'a> PacedClock<'a> {
    /// The longest stride: bounds how late a budget can end after a sudden slowdown
    /// (an iteration that takes much longer than the ones before it).
    const MAX_STRIDE: u64 = 1024;

    /// Reads nothing yet: the first call reads the clock.
    pub fn new(clock: &'a dyn Clock, interval: f64) -> Self {
        Self {
            clock,
            interval,
            stride: 1,
            skip: 0,
            last: f64::NEG_INFINITY,
        }
    }

    /// The time of the latest read; reads the clock when `stride` calls have passed.
    pub fn now_secs(&mut self) -> f64 {
        if self.skip > 0 {
            self.skip -= 1;
            return self.last;
        }
        let now = self.clock.now_secs();
        // `now - last` is the time `stride` calls took: double the stride while reads come
        // in under half the interval, halve it when they come later than the interval.
        let since = now - self.last;
        if since < self.interval / 2.0 {
            self.stride = (self.stride * 2).min(Self::MAX_STRIDE);
        } else if since > self.interval {
            self.stride = (self.stride / 2).max(1);
        }
        self.last = now;
        self.skip = self.stride - 1;
        now
    }
}

/// A fake clock that advances by `step` seconds every time it is read.
pub struct StepClock {
    now: Cell<f64>,
    step: f64,
    reads: Cell<u64>,
}

impl StepClock {
    pub fn new(step: f64) -> Self {
        Self {
            now: Cell::new(0.0),
            step,
            reads: Cell::new(0),
        }
    }

    pub fn reads(&self) -> u64 {
        self.reads.get()
    }

    pub fn peek(&self) -> f64 {
        self.now.get()
    }
}

impl Clock for StepClock {
    fn now_secs(&self) -> f64 {
        let t = self.now.get();
        self.now.set(t + self.step);
        self.reads.set(self.reads.get() + 1);
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Time that the test advances by hand, as work would; counts the reads.
    #[derive(Default)]
    struct HandClock {
        now: Cell<f64>,
        reads: Cell<u64>,
    }

    impl HandClock {
        fn advance(&self, secs: f64) {
            self.now.set(self.now.get() + secs);
        }
    }

    impl Clock for HandClock {
        fn now_secs(&self) -> f64 {
            self.reads.set(self.reads.get() + 1);
            self.now.get()
        }
    }

    #[test]
    fn paced_reads_fall_about_an_interval_apart_and_follow_a_slowdown() {
        let clock = HandClock::default();
        let mut paced = PacedClock::new(&clock, 0.001);
        let mut previous = f64::NEG_INFINITY;
        let mut call = |step: f64| {
            clock.advance(step);
            let seen = paced.now_secs();
            assert!(seen >= previous, "time went back");
            previous = seen;
            clock.now.get() - seen
        };
        // One second at 10 µs a call: the stride doubles to 64 (reads 0.64 ms apart).
        let worst = (0..100_000).map(|_| call(1e-5)).fold(0.0, f64::max);
        assert!(worst <= 64.0 * 1e-5 + 1e-9, "lag {worst}");
        let fast_reads = clock.reads.get();
        assert!((1_500..1_700).contains(&fast_reads), "{fast_reads} reads");
        // Then 1 ms a call: the stride of 64 lags 64 ms once, then halves at every read
        // (64 + 32 + ... + 1 calls) and every call reads.
        let worst = (0..200).map(|_| call(1e-3)).fold(0.0, f64::max);
        assert!(worst <= 64.0 * 1e-3 + 1e-9, "lag {worst}");
        for _ in 0..100 {
            assert_eq!(call(1e-3), 0.0);
        }
    }

    #[test]
    fn a_clock_read_an_interval_apart_is_read_at_every_call() {
        let clock = StepClock::new(0.01);
        let mut paced = PacedClock::new(&clock, 0.001);
        for _ in 0..100 {
            let expected = clock.peek();
            assert_eq!(paced.now_secs(), expected);
        }
        assert_eq!(clock.reads(), 100);
    }
}

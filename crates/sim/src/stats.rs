//! Shared counters of a simulation run, the progress line and the final summary.

use std::fmt;
use std::sync::atomic::AtomicI64;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Mutex;
use std::time::Duration;

#[derive(Debug, Default)]
pub struct Stats {
    pub connects: AtomicU64,
    pub reconnects: AtomicU64,
    pub connect_failures: AtomicU64,
    pub frames_sent: AtomicU64,
    pub frames_received: AtomicU64,
    pub calls_sent: AtomicU64,
    pub call_errors_received: AtomicU64,
    pub calls_answered: AtomicU64,
    pub call_errors_sent: AtomicU64,
    pub protocol_errors: AtomicU64,
    pub timeouts: AtomicU64,
    pub transactions_started: AtomicU64,
    pub transactions_completed: AtomicU64,
    pub connected: AtomicI64,
    pub booted: AtomicI64,
    pub transactions_running: AtomicI64,
    /// Round-trip times of the station's own CALLs, in microseconds (bounded sample).
    latencies: Mutex<Vec<u64>>,
}

const MAX_LATENCY_SAMPLES: usize = 200_000;

impl Stats {
    pub fn record_latency(&self, d: Duration) {
        if let Ok(mut l) = self.latencies.lock() {
            if l.len() < MAX_LATENCY_SAMPLES {
                l.push(d.as_micros() as u64);
            }
        }
    }

    pub(crate) fn take_latencies(&self) -> Vec<u64> {
        self.latencies.lock().map(|mut l| std::mem::take(&mut *l)).unwrap_or_default()
    }

    pub fn progress(&self, elapsed: Duration) -> SimProgress {
        SimProgress {
            elapsed,
            connected: self.connected.load(Relaxed).max(0) as u64,
            booted: self.booted.load(Relaxed).max(0) as u64,
            transactions_running: self.transactions_running.load(Relaxed).max(0) as u64,
            transactions_completed: self.transactions_completed.load(Relaxed),
            frames_sent: self.frames_sent.load(Relaxed),
            frames_received: self.frames_received.load(Relaxed),
            calls_answered: self.calls_answered.load(Relaxed),
            errors: self.call_errors_received.load(Relaxed)
                + self.protocol_errors.load(Relaxed)
                + self.timeouts.load(Relaxed),
        }
    }

    pub fn summary(&self, stations: usize, elapsed: Duration) -> SimSummary {
        let mut lat = self.take_latencies();
        let latency_p99 = percentile(&mut lat, 0.99);
        let latency_p50 = percentile(&mut lat, 0.5);
        SimSummary {
            latency_p50,
            latency_p99,
            stations,
            elapsed,
            connects: self.connects.load(Relaxed),
            reconnects: self.reconnects.load(Relaxed),
            connect_failures: self.connect_failures.load(Relaxed),
            frames_sent: self.frames_sent.load(Relaxed),
            frames_received: self.frames_received.load(Relaxed),
            calls_sent: self.calls_sent.load(Relaxed),
            call_errors_received: self.call_errors_received.load(Relaxed),
            calls_answered: self.calls_answered.load(Relaxed),
            call_errors_sent: self.call_errors_sent.load(Relaxed),
            protocol_errors: self.protocol_errors.load(Relaxed),
            timeouts: self.timeouts.load(Relaxed),
            transactions_started: self.transactions_started.load(Relaxed),
            transactions_completed: self.transactions_completed.load(Relaxed),
        }
    }
}

/// The `p` quantile (0..=1) of microsecond samples.
pub fn percentile(sorted_us: &mut [u64], p: f64) -> Duration {
    if sorted_us.is_empty() {
        return Duration::ZERO;
    }
    sorted_us.sort_unstable();
    let idx = ((p * sorted_us.len() as f64).ceil() as usize).clamp(1, sorted_us.len()) - 1;
    Duration::from_micros(sorted_us[idx])
}

/// A snapshot for the periodic one-line progress report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SimProgress {
    pub elapsed: Duration,
    pub connected: u64,
    pub booted: u64,
    pub transactions_running: u64,
    pub transactions_completed: u64,
    pub frames_sent: u64,
    pub frames_received: u64,
    pub calls_answered: u64,
    /// CALLERRORs received + protocol errors + CALLs without an answer in time.
    pub errors: u64,
}

impl fmt::Display for SimProgress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "t={}s connected={} booted={} tx_running={} tx_completed={} frames_sent={} frames_received={} calls_answered={} errors={}",
            self.elapsed.as_secs(),
            self.connected,
            self.booted,
            self.transactions_running,
            self.transactions_completed,
            self.frames_sent,
            self.frames_received,
            self.calls_answered,
            self.errors
        )
    }
}

/// What a simulation run did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SimSummary {
    pub stations: usize,
    pub elapsed: Duration,
    /// Successful WebSocket connects (the first one of each station and every reconnect).
    pub connects: u64,
    pub reconnects: u64,
    pub connect_failures: u64,
    pub frames_sent: u64,
    pub frames_received: u64,
    /// CALLs the stations sent.
    pub calls_sent: u64,
    /// CALLERRORs the central system answered the stations' CALLs with.
    pub call_errors_received: u64,
    /// Central-system CALLs the stations answered (CALLRESULT or CALLERROR).
    pub calls_answered: u64,
    /// Of those, answered with CALLERROR.
    pub call_errors_sent: u64,
    /// Frames that broke OCPP-J, unmatched answers, invalid CALLRESULT payloads.
    pub protocol_errors: u64,
    /// CALLs without an answer within the call timeout.
    pub timeouts: u64,
    pub transactions_started: u64,
    pub transactions_completed: u64,
    /// Round-trip time of the stations' CALLs: median and 99th percentile.
    pub latency_p50: Duration,
    pub latency_p99: Duration,
}

impl fmt::Display for SimSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} stations in {:.1}s: connects={} reconnects={} connect_failures={} frames_sent={} frames_received={} \
             calls_sent={} call_errors_received={} calls_answered={} call_errors_sent={} protocol_errors={} \
             timeouts={} transactions_started={} transactions_completed={} latency_p50={:.1}ms latency_p99={:.1}ms",
            self.stations,
            self.elapsed.as_secs_f64(),
            self.connects,
            self.reconnects,
            self.connect_failures,
            self.frames_sent,
            self.frames_received,
            self.calls_sent,
            self.call_errors_received,
            self.calls_answered,
            self.call_errors_sent,
            self.protocol_errors,
            self.timeouts,
            self.transactions_started,
            self.transactions_completed,
            self.latency_p50.as_secs_f64() * 1000.0,
            self.latency_p99.as_secs_f64() * 1000.0
        )
    }
}

//! Counters of the log pipeline and the gateway, shown at `/metrics` and in the API.

use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};

macro_rules! counters {
    ($( $name:ident : $help:literal ),* $(,)?) => {
        /// Every failure or drop is counted here, in one place.
        #[derive(Debug, Default)]
        pub struct Metrics { $( pub $name: AtomicU64, )* }

        /// A point-in-time copy of [`Metrics`].
        #[derive(Debug, Clone, Default, Serialize, PartialEq)]
        pub struct MetricsSnapshot { $( pub $name: u64, )* }

        impl Metrics {
            pub fn snapshot(&self) -> MetricsSnapshot {
                MetricsSnapshot { $( $name: self.$name.load(Ordering::Relaxed), )* }
            }

            /// Prometheus text exposition.
            pub fn prometheus(&self) -> String {
                let mut out = String::new();
                $(
                    out.push_str(concat!("# HELP chargewatch_", stringify!($name), " ", $help, "\n"));
                    out.push_str(concat!("# TYPE chargewatch_", stringify!($name), " counter\n"));
                    out.push_str(&format!(concat!("chargewatch_", stringify!($name), " {}\n"), self.$name.load(Ordering::Relaxed)));
                )*
                out
            }
        }
    };
}

counters! {
    frames_in: "OCPP frames received from chargers",
    frames_out: "OCPP frames sent to chargers",
    records_captured: "log records built by the gateways",
    records_filtered: "frames the log level did not keep (held in the ring buffer)",
    records_backfilled: "ring-buffer records written after a level was raised",
    records_published: "log records handed to the transport (including those it then dropped)",
    records_dropped: "log records dropped because the transport queue was full",
    records_stored: "log records committed to the log store",
    store_errors: "failed log store batch writes (retried)",
    store_batches: "log store batches committed",
    store_batch_micros: "total time spent committing batches, microseconds",
    tail_lagged: "live-tail subscribers that fell behind and skipped records",
}

impl Metrics {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

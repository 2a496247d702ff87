//! Frame-to-visible latency under load: how long after a charger sends a frame the record
//! is committed to the embedded log store and shown by the live tail.
//!
//! `cargo run --release -p chargewatch --example visible_latency -- [LOAD_STATIONS] [SECONDS]`
//!
//! LOAD_STATIONS (default 100) stations send MeterValues closed-loop at `debug` level, so
//! every frame is stored; a probe station sends a DataTransfer every 20 ms and a tail
//! subscriber notes when each appears. Prints p50/p99/max and the load's records/s.

use chargewatch::config::ServeArgs;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

const TOKEN: &str = "bench-token-1234";

async fn station(
    url: &str,
    id: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    let mut req = format!("{url}/{id}").into_client_request().unwrap();
    req.headers_mut().insert("Sec-WebSocket-Protocol", "ocpp1.6".parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.expect("connect");
    let boot = json!([2, "b", "BootNotification", {"chargePointVendor": "Bench", "chargePointModel": "B"}]);
    ws.send(Message::Text(boot.to_string().into())).await.unwrap();
    ws.next().await.unwrap().unwrap();
    ws
}

fn meter_values(n: u64) -> String {
    let ts = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    json!([2, n.to_string(), "MeterValues", {"connectorId": 1, "transactionId": 1, "meterValue": [{"timestamp": ts, "sampledValue": [
        {"value": (n * 10).to_string(), "measurand": "Energy.Active.Import.Register", "unit": "Wh", "context": "Sample.Periodic"},
        {"value": "7200", "measurand": "Power.Active.Import", "unit": "W", "context": "Sample.Periodic"},
        {"value": "31.2", "measurand": "Current.Import", "unit": "A", "context": "Sample.Periodic"},
        {"value": "230.1", "measurand": "Voltage", "unit": "V", "context": "Sample.Periodic"}]}]}])
    .to_string()
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let load: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(100);
    let seconds: u64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(15);
    let dir = std::env::temp_dir().join(format!("chargewatch-visible-{}", std::process::id()));
    let mut serve = ServeArgs::for_test(dir.clone(), TOKEN);
    serve.accept_unknown_stations = true;
    serve.default_log_level = chargewatch_logstore::LogLevel::Debug;
    let server = chargewatch::server::start(serve).await.unwrap();
    let url = server.ocpp_url();
    let stop = Arc::new(AtomicBool::new(false));
    let round_trips = Arc::new(AtomicU64::new(0));
    for i in 0..load {
        let (url, stop, rt) = (url.clone(), stop.clone(), round_trips.clone());
        tokio::spawn(async move {
            let mut ws = station(&url, &format!("LOAD-{i:05}")).await;
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                ws.send(Message::Text(meter_values(n).into())).await.unwrap();
                ws.next().await;
                rt.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
    let sent: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let seen: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let tail = reqwest::Client::new()
        .get(format!("{}/api/v1/logs/stream?station_id=PROBE&action=DataTransfer&direction=in", server.http_url()))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    let (sent2, seen2) = (sent.clone(), seen.clone());
    tokio::spawn(async move {
        let mut body = tail.bytes_stream();
        let mut buf = String::new();
        while let Some(Ok(chunk)) = body.next().await {
            buf.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buf.find("\n\n") {
                let event: String = buf.drain(..end + 2).collect();
                if let Some(start) = event.find("probe-") {
                    let marker: String =
                        event[start..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
                    if let Some(t) = sent2.lock().unwrap().remove(&marker) {
                        seen2.lock().unwrap().push(t.elapsed());
                    }
                }
            }
        }
    });
    let mut probe = station(&url, "PROBE").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let start_rt = round_trips.load(Ordering::Relaxed);
    let started = Instant::now();
    let mut i = 0u64;
    while started.elapsed() < Duration::from_secs(seconds) {
        i += 1;
        let marker = format!("probe-{i}");
        sent.lock().unwrap().insert(marker.clone(), Instant::now());
        let frame = json!([2, format!("p{i}"), "DataTransfer", {"vendorId": "bench", "data": marker}]);
        probe.send(Message::Text(frame.to_string().into())).await.unwrap();
        probe.next().await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let rts = round_trips.load(Ordering::Relaxed) - start_rt;
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    let mut lat = seen.lock().unwrap().clone();
    lat.sort();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1))).copied().unwrap_or_default()
    };
    let secs = started.elapsed().as_secs_f64() - 2.0;
    let stats = server.metrics.snapshot();
    println!(
        "load stations={load} round_trips/s={:.0} records/s={:.0} probes={} visible={} p50={:?} p99={:?} max={:?} dropped={}",
        rts as f64 / secs,
        2.0 * rts as f64 / secs,
        i,
        lat.len(),
        pct(0.50),
        pct(0.99),
        lat.last().copied().unwrap_or_default(),
        stats.records_dropped
    );
    server.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}

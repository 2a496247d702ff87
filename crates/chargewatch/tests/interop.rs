//! Interoperability tests against an independent OCPP 1.6-J implementation: the charging station
//! of `tests-interop/charge_point.py`, built on the PyPI `ocpp` library, which validates every
//! payload (ours and its own) against the official OCPP 1.6 JSON schemas.
//!
//! Needs a Python with `ocpp` and `websockets`: `CHARGEWATCH_PYTHON`, else `.venv/bin/python`
//! at the workspace root (`python3 -m venv .venv && .venv/bin/pip install ocpp websockets`).
//! Without it the tests print `SKIPPED` and pass, unless `CI=true`, where they fail.

use chargewatch::config::ServeArgs;
use chargewatch::server::{self, Running};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::Command;

const TOKEN: &str = "interop-admin-token";
const ID_TAG: &str = "INTEROP-TAG-1";
const INFO_ACTIONS: [&str; 5] =
    ["Authorize", "BootNotification", "StartTransaction", "StatusNotification", "StopTransaction"];

// ---- environment -------------------------------------------------------------------------

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn script() -> PathBuf {
    workspace_root().join("tests-interop/charge_point.py")
}

/// The Python that has the `ocpp` package, or `None` (after printing why) when the test should
/// be skipped. Panics instead of skipping when `CI=true`.
fn python() -> Option<PathBuf> {
    let py = std::env::var_os("CHARGEWATCH_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".venv/bin/python"));
    let problem = if !py.exists() {
        Some(format!("no Python at {}", py.display()))
    } else {
        match std::process::Command::new(&py).args(["-c", "import ocpp, websockets"]).output() {
            Ok(o) if o.status.success() => None,
            Ok(o) => Some(format!(
                "{} cannot import ocpp/websockets: {}",
                py.display(),
                String::from_utf8_lossy(&o.stderr).trim()
            )),
            Err(e) => Some(format!("cannot run {}: {e}", py.display())),
        }
    };
    match problem {
        None => Some(py),
        Some(p) => {
            let msg = format!(
                "SKIPPED: OCPP interop test: {p} (install with: python3 -m venv .venv && \
                 .venv/bin/pip install ocpp websockets, or set CHARGEWATCH_PYTHON)"
            );
            if std::env::var("CI").map(|v| v == "true").unwrap_or(false) {
                panic!("{msg} — CI=true, so this is a failure");
            }
            // Straight to the process's stderr: visible even though libtest captures print!.
            let _ = std::io::Write::write_all(&mut std::io::stderr(), format!("{msg}\n").as_bytes());
            None
        }
    }
}

fn temp_dir(name: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let dir = std::env::temp_dir().join(format!("chargewatch-interop-{name}-{}-{nanos}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn start_server(name: &str) -> (Running, PathBuf) {
    let dir = temp_dir(name);
    let running = server::start(ServeArgs::for_test(dir.clone(), TOKEN)).await.expect("server starts");
    (running, dir)
}

// ---- HTTP API ----------------------------------------------------------------------------

struct Api {
    base: String,
    http: reqwest::Client,
}

impl Api {
    fn new(s: &Running) -> Api {
        Api { base: s.http_url(), http: reqwest::Client::new() }
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(TOKEN);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.timeout(Duration::from_secs(30)).send().await.unwrap_or_else(|e| panic!("{path}: {e}"));
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    async fn get(&self, path: &str) -> Value {
        let (s, v) = self.send(reqwest::Method::GET, path, None).await;
        assert_eq!(s, 200, "GET {path}: {v}");
        v
    }

    async fn ok(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let (s, v) = self.send(method.clone(), path, Some(body)).await;
        assert!((200..300).contains(&s), "{method} {path}: {s} {v}");
        v
    }

    /// A site, a station registered to it, and the accepted id tag.
    async fn setup(&self, site: &str, site_name: &str, level: &str, station: &str) {
        self.ok(reqwest::Method::POST, "/api/v1/sites", json!({"id": site, "name": site_name, "log_level": level}))
            .await;
        self.ok(reqwest::Method::PUT, &format!("/api/v1/stations/{station}"), json!({"site_id": site})).await;
        self.ok(reqwest::Method::PUT, &format!("/api/v1/id-tags/{ID_TAG}"), json!({"status": "Accepted"})).await;
    }

    /// All log rows of a station, oldest first.
    async fn logs(&self, station: &str) -> Vec<Value> {
        let v = self.get(&format!("/api/v1/logs?station_id={station}&limit=1000")).await;
        let mut items = v["items"].as_array().unwrap_or_else(|| panic!("logs answer: {v}")).clone();
        items.reverse();
        items
    }

    /// Polls the log rows until `done` holds (the log pipeline is asynchronous), at most 5 s.
    async fn logs_until(&self, station: &str, what: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let rows = self.logs(station).await;
            if done(&rows) {
                return rows;
            }
            if Instant::now() > deadline {
                panic!("log rows of {station}: gave up waiting for {what}; rows:\n{}", table(&rows));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn station_until(&self, station: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let v = self.get(&format!("/api/v1/stations/{station}")).await;
            if done(&v) {
                return v;
            }
            if Instant::now() > deadline {
                panic!("station {station}: gave up waiting for {what}: {v:#}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn table(rows: &[Value]) -> String {
    rows.iter()
        .map(|r| {
            format!(
                "  {:<3} {:<10} {:<30} conn={:<4} status={:<14} err={:<14} level={} uid={}",
                s(&r["direction"]),
                s(&r["message_type"]),
                s(&r["action"]),
                r["connector_id"].to_string(),
                s(&r["status"]),
                s(&r["error_code"]),
                s(&r["level"]),
                s(&r["unique_id"]),
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn s(v: &Value) -> String {
    v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())
}

fn rows<'a>(all: &'a [Value], action: &str, message_type: &str) -> Vec<&'a Value> {
    all.iter().filter(|r| r["action"] == action && r["message_type"] == message_type).collect()
}

fn events(all: &[Value], name: &str) -> usize {
    all.iter().filter(|r| r["message_type"] == "EVENT" && r["action"] == name).count()
}

// ---- the Python station ------------------------------------------------------------------

struct ScriptRun {
    code: Option<i32>,
    lines: Vec<Value>,
    stderr: String,
}

impl ScriptRun {
    fn summary(&self) -> &Value {
        self.lines.iter().rev().find(|l| l["event"] == "summary").unwrap_or(&Value::Null)
    }

    fn assert_ok(&self) -> &Value {
        let sum = self.summary();
        assert!(
            self.code == Some(0) && sum["ok"] == true,
            "charge_point.py failed (exit {:?}): summary {sum}\nstderr:\n{}",
            self.code,
            self.stderr
        );
        sum
    }
}

fn python_command(py: &Path, ocpp_url: &str, station: &str, extra: &[&str]) -> Command {
    let mut cmd = Command::new(py);
    cmd.arg(script())
        .arg(ocpp_url)
        .arg(station)
        .args(["--id-tag", ID_TAG])
        .args(extra)
        .env("PYTHONUNBUFFERED", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

fn parse_lines(text: &str) -> Vec<Value> {
    text.lines().filter_map(|l| serde_json::from_str::<Value>(l.trim()).ok()).collect()
}

/// Runs the whole charging script and waits for the station to leave.
async fn run_script(py: &Path, ocpp_url: &str, station: &str) -> ScriptRun {
    let mut cmd = python_command(py, ocpp_url, station, &[]);
    cmd.stdin(Stdio::null());
    let out = tokio::time::timeout(Duration::from_secs(120), cmd.output())
        .await
        .expect("charge_point.py finishes within 120 s")
        .expect("charge_point.py runs");
    ScriptRun {
        code: out.status.code(),
        lines: parse_lines(&String::from_utf8_lossy(&out.stdout)),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

// ---- test 1: a charging session and the message log ---------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn python_station_charging_session_and_message_log() {
    let Some(py) = python() else { return };
    let (srv, dir) = start_server("session").await;
    let api = Api::new(&srv);
    let station = "PY-INTEROP-1";
    api.setup("interop-site", "Interop Site", "info", station).await;

    // ---- run 1, site at `info` ----
    let run = run_script(&py, &srv.ocpp_url(), station).await;
    let sum = run.assert_ok().clone();
    println!("run 1 summary: {sum}");
    assert_eq!(sum["boot_status"], "Accepted");
    assert_eq!(sum["authorize_status"], "Accepted");
    assert_eq!(sum["start_status"], "Accepted");
    assert_eq!(sum["data_transfer_status"], "UnknownVendorId");
    let tx = sum["transaction_id"].as_i64().expect("transaction id");

    // Station state.
    let st = api.station_until(station, "connected=false", |v| v["connected"] == false).await;
    assert_eq!(st["vendor"], "InteropVendor", "{st:#}");
    assert_eq!(st["model"], "PyOCPP-16", "{st:#}");
    assert_eq!(st["serial_number"], "PY-SN-0001", "{st:#}");
    assert_eq!(st["firmware_version"], "1.2.3-interop", "{st:#}");
    assert_eq!(st["boot_status"], "Accepted", "{st:#}");
    assert_eq!(st["diagnostics_status"], "Uploaded", "{st:#}");
    assert_eq!(st["firmware_status"], "Installed", "{st:#}");
    assert!(!st["last_heartbeat_at"].is_null(), "the Heartbeat is recorded: {st:#}");
    let conn = |id: i64| -> Value {
        st["connectors"]
            .as_array()
            .expect("connectors")
            .iter()
            .find(|c| c["connector_id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("connector {id} missing: {st:#}"))
    };
    for id in [0, 1] {
        let c = conn(id);
        assert_eq!((c["status"].as_str(), c["error_code"].as_str()), (Some("Available"), Some("NoError")), "{c}");
    }
    let c2 = conn(2);
    assert_eq!(c2["status"], "Faulted", "{c2}");
    assert_eq!(c2["error_code"], "GroundFailure", "{c2}");
    assert_eq!(c2["info"], "RCD tripped", "{c2}");
    assert_eq!(c2["vendor_error_code"], "E-GF-01", "{c2}");

    // The transaction.
    let txs = api.get(&format!("/api/v1/stations/{station}/transactions")).await;
    let t = txs
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == tx)
        .unwrap_or_else(|| panic!("transaction {tx} not listed: {txs:#}"))
        .clone();
    assert_eq!(t["connector_id"], 1, "{t:#}");
    assert_eq!(t["id_tag"], ID_TAG, "{t:#}");
    assert_eq!(t["meter_start"], 1000, "{t:#}");
    assert_eq!(t["meter_stop"], 2750, "{t:#}");
    assert_eq!(t["energy_wh"], 1750, "{t:#}");
    assert_eq!(t["stop_reason"], "Local", "{t:#}");
    assert!(!t["stop_timestamp"].is_null(), "stopped: {t:#}");
    let full = api.get(&format!("/api/v1/transactions/{tx}")).await;
    let mv = full["meter_values"].as_array().unwrap_or_else(|| panic!("meter_values: {full:#}"));
    assert!(mv.len() >= 3, "the 3 MeterValues are kept: {full:#}");
    let mv_text = serde_json::to_string(mv).unwrap();
    for needle in ["Energy.Active.Import.Register", "Power.Active.Import", "Current.Import", "Voltage", "2500"] {
        assert!(mv_text.contains(needle), "meter values keep {needle}: {mv_text}");
    }

    // The log rows at `info`.
    let logs = api
        .logs_until(station, "the Disconnected event and the last StatusNotification answer", |r| {
            events(r, "Disconnected") >= 1 && rows(r, "StatusNotification", "CALLRESULT").len() >= 8
        })
        .await;
    println!("run 1 log rows (site at info):\n{}", table(&logs));
    check_info_rows(&logs, tx);
    for row in &logs {
        assert_eq!(row["station_id"], station, "{row}");
        assert_eq!(row["site_name"], "Interop Site", "{row}");
        assert_eq!(row["site_id"], "interop-site", "{row}");
        assert!(row["validation_error"].is_null(), "a schema-valid frame has no validation note: {row}");
        let mt = row["message_type"].as_str().unwrap_or("");
        let action = row["action"].as_str().unwrap_or("");
        assert!(
            mt == "EVENT" || mt == "CALLERROR" || INFO_ACTIONS.contains(&action),
            "at level info only the info actions, CALLERRORs and events are kept, found: {row}"
        );
    }
    for hidden in
        ["Heartbeat", "MeterValues", "DataTransfer", "DiagnosticsStatusNotification", "FirmwareStatusNotification"]
    {
        assert!(!logs.iter().any(|r| r["action"] == hidden), "{hidden} must not be kept at level info");
    }

    // ---- run 2, site at `debug` ----
    api.ok(reqwest::Method::PATCH, "/api/v1/sites/interop-site", json!({"log_level": "debug"})).await;
    api.station_until(station, "effective_log_level=debug", |v| v["effective_log_level"] == "debug").await;
    // README: raising the level also writes the frames the `info` level held back just before
    // (a per-station ring buffer), with their original timestamps.
    let backfilled = api
        .logs_until(station, "the backfill of run 1's Heartbeat and MeterValues", |r| {
            rows(r, "Heartbeat", "CALL").len() == 1 && rows(r, "MeterValues", "CALLRESULT").len() == 3
        })
        .await;
    println!("run 1 log rows after the level was raised to debug (backfill):\n{}", table(&backfilled));
    let run2 = run_script(&py, &srv.ocpp_url(), station).await;
    let sum2 = run2.assert_ok().clone();
    println!("run 2 summary: {sum2}");
    let tx2 = sum2["transaction_id"].as_i64().expect("transaction id");
    assert_ne!(tx, tx2, "a new transaction id");
    let logs = api
        .logs_until(station, "the second Disconnected event", |r| {
            events(r, "Disconnected") >= 2 && rows(r, "StatusNotification", "CALLRESULT").len() >= 16
        })
        .await;
    // Rows are in timestamp order; run 2 starts with its Connected event.
    let start2 = logs
        .iter()
        .enumerate()
        .filter(|(_, r)| r["message_type"] == "EVENT" && r["action"] == "Connected")
        .nth(1)
        .map(|(i, _)| i)
        .expect("a second Connected event");
    let second: Vec<Value> = logs[start2..].to_vec();
    println!("run 2 log rows (site at debug):\n{}", table(&second));
    check_info_rows(&second, tx2);
    for (action, n) in [
        ("Heartbeat", 1),
        ("MeterValues", 3),
        ("DataTransfer", 1),
        ("DiagnosticsStatusNotification", 1),
        ("FirmwareStatusNotification", 1),
    ] {
        let calls = rows(&second, action, "CALL");
        let results = rows(&second, action, "CALLRESULT");
        assert_eq!(calls.len(), n, "{action} CALL rows at debug:\n{}", table(&second));
        assert_eq!(results.len(), n, "{action} CALLRESULT rows at debug:\n{}", table(&second));
        for r in calls {
            assert_eq!(r["direction"], "in", "{r}");
            assert_eq!(r["level"], "debug", "{r}");
        }
        for r in results {
            assert_eq!(r["direction"], "out", "{r}");
            assert_eq!(r["level"], "debug", "{r}");
        }
    }
    for r in rows(&second, "MeterValues", "CALL") {
        assert_eq!(r["connector_id"], 1, "MeterValues has connectorId 1: {r}");
        assert_eq!(r["payload"]["transactionId"], tx2, "{r}");
        assert_eq!(r["payload"]["meterValue"][0]["sampledValue"].as_array().map(Vec::len), Some(4), "{r}");
    }
    for r in rows(&second, "MeterValues", "CALLRESULT") {
        assert_eq!(r["connector_id"], 1, "a response has the connector of its request: {r}");
    }
    assert_eq!(rows(&second, "DataTransfer", "CALLRESULT")[0]["status"], "UnknownVendorId");
    assert_eq!(rows(&second, "DiagnosticsStatusNotification", "CALL")[0]["status"], "Uploaded");
    assert_eq!(rows(&second, "FirmwareStatusNotification", "CALL")[0]["status"], "Installed");
    assert!(second.iter().all(|r| r["validation_error"].is_null()), "no validation notes:\n{}", table(&second));

    let t0 = Instant::now();
    srv.stop().await;
    println!("server stopped in {:?}", t0.elapsed());
    let _ = std::fs::remove_dir_all(dir);
}

/// The rows of one run of the script: the info actions both ways with the right columns,
/// and the connection events.
fn check_info_rows(logs: &[Value], tx: i64) {
    let t = table(logs);
    assert_eq!(events(logs, "Connected"), 1, "one Connected event:\n{t}");
    assert_eq!(events(logs, "Disconnected"), 1, "one Disconnected event:\n{t}");
    let disc = logs.iter().find(|r| r["action"] == "Disconnected").unwrap();
    assert_eq!(disc["payload"]["code"], 1000, "a normal close by the station: {disc}");
    for action in INFO_ACTIONS {
        let calls = rows(logs, action, "CALL");
        let results = rows(logs, action, "CALLRESULT");
        assert!(!calls.is_empty(), "{action} CALL kept at info:\n{t}");
        assert_eq!(calls.len(), results.len(), "{action}: every CALL has its CALLRESULT:\n{t}");
        for c in &calls {
            assert_eq!(c["direction"], "in", "{c}");
            let answer = results
                .iter()
                .find(|r| r["unique_id"] == c["unique_id"])
                .unwrap_or_else(|| panic!("no CALLRESULT with the unique id of {c}:\n{t}"));
            assert_eq!(answer["direction"], "out", "{answer}");
            assert_eq!(
                answer["connector_id"], c["connector_id"],
                "a response has the connector of its request (SPEC: Charging Point ID): {answer}"
            );
            assert!(answer["latency_ms"].is_number(), "a CALLRESULT carries its latency: {answer}");
        }
    }

    // StatusNotification: connector, status and error code columns, in order.
    let sn: Vec<(i64, String, String)> = rows(logs, "StatusNotification", "CALL")
        .iter()
        .map(|r| (r["connector_id"].as_i64().unwrap_or(-1), s(&r["status"]), s(&r["error_code"])))
        .collect();
    let expected: Vec<(i64, String, String)> = [
        (0, "Available", "NoError"),
        (1, "Available", "NoError"),
        (2, "Available", "NoError"),
        (1, "Preparing", "NoError"),
        (1, "Charging", "NoError"),
        (1, "Finishing", "NoError"),
        (1, "Available", "NoError"),
        (2, "Faulted", "GroundFailure"),
    ]
    .iter()
    .map(|(c, st, e)| (*c, st.to_string(), e.to_string()))
    .collect();
    assert_eq!(sn, expected, "StatusNotification rows (connector, status, error code):\n{t}");

    let boot = rows(logs, "BootNotification", "CALLRESULT");
    assert_eq!(boot[0]["status"], "Accepted", "BootNotification.conf status: {}", boot[0]);
    let auth = rows(logs, "Authorize", "CALLRESULT");
    assert_eq!(auth[0]["status"], "Accepted", "Authorize.conf idTagInfo.status: {}", auth[0]);

    let start_call = rows(logs, "StartTransaction", "CALL")[0];
    assert_eq!(start_call["connector_id"], 1, "{start_call}");
    let start_res = rows(logs, "StartTransaction", "CALLRESULT")[0];
    assert_eq!(start_res["status"], "Accepted", "StartTransaction.conf idTagInfo.status: {start_res}");
    assert_eq!(start_res["connector_id"], 1, "{start_res}");
    assert_eq!(start_res["payload"]["transactionId"], tx, "{start_res}");

    let stop_call = rows(logs, "StopTransaction", "CALL")[0];
    assert_eq!(stop_call["connector_id"], 1, "StopTransaction: the connector of the transaction: {stop_call}");
    assert_eq!(stop_call["payload"]["transactionId"], tx, "{stop_call}");
    assert!(stop_call["payload"]["transactionData"].is_array(), "the exact payload is kept: {stop_call}");
    let stop_res = rows(logs, "StopTransaction", "CALLRESULT")[0];
    assert_eq!(stop_res["connector_id"], 1, "StopTransaction.conf: the connector of the transaction: {stop_res}");
    assert_eq!(stop_res["status"], "Accepted", "StopTransaction.conf idTagInfo.status: {stop_res}");
}

// ---- test 2: every central-system-initiated action ----------------------------------------

fn commands(tx: i64) -> Vec<(&'static str, Value)> {
    let profile = json!({
        "chargingProfileId": 11, "stackLevel": 1, "chargingProfilePurpose": "TxDefaultProfile",
        "chargingProfileKind": "Recurring", "recurrencyKind": "Daily",
        "validFrom": "2026-01-01T00:00:00Z", "validTo": "2031-01-01T00:00:00Z",
        "chargingSchedule": {
            "duration": 86400, "startSchedule": "2026-01-01T00:00:00Z", "chargingRateUnit": "A",
            "chargingSchedulePeriod": [
                {"startPeriod": 0, "limit": 16.0, "numberPhases": 3},
                {"startPeriod": 28800, "limit": 32.5}
            ],
            "minChargingRate": 6.0
        }
    });
    vec![
        ("ChangeAvailability", json!({"connectorId": 1, "type": "Inoperative"})),
        ("ChangeConfiguration", json!({"key": "HeartbeatInterval", "value": "120"})),
        ("ClearCache", json!({})),
        ("DataTransfer", json!({"vendorId": "com.example.interop", "messageId": "Ping", "data": "ping"})),
        ("GetConfiguration", json!({"key": ["HeartbeatInterval", "NoSuchKey"]})),
        (
            "RemoteStartTransaction",
            json!({"connectorId": 1, "idTag": ID_TAG, "chargingProfile": {
                "chargingProfileId": 12, "transactionId": tx, "stackLevel": 0, "chargingProfilePurpose": "TxProfile",
                "chargingProfileKind": "Relative",
                "chargingSchedule": {"chargingRateUnit": "W", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 11000.0}]}
            }}),
        ),
        ("RemoteStopTransaction", json!({"transactionId": tx})),
        ("Reset", json!({"type": "Soft"})),
        ("UnlockConnector", json!({"connectorId": 2})),
        (
            "GetDiagnostics",
            json!({"location": "ftp://diag.example.com/upload/", "retries": 2, "retryInterval": 30,
                   "startTime": "2026-01-01T00:00:00Z", "stopTime": "2026-01-02T00:00:00Z"}),
        ),
        (
            "UpdateFirmware",
            json!({"location": "https://fw.example.com/fw-2.0.bin", "retrieveDate": "2026-01-01T00:00:00Z",
                   "retries": 3, "retryInterval": 60}),
        ),
        ("GetLocalListVersion", json!({})),
        (
            "SendLocalList",
            json!({"listVersion": 2, "updateType": "Full", "localAuthorizationList": [
                {"idTag": ID_TAG, "idTagInfo": {"status": "Accepted", "expiryDate": "2030-01-01T00:00:00Z"}},
                {"idTag": "BLOCKED-TAG", "idTagInfo": {"status": "Blocked"}}
            ]}),
        ),
        ("CancelReservation", json!({"reservationId": 7})),
        (
            "ReserveNow",
            json!({"connectorId": 1, "expiryDate": "2030-01-01T00:00:00Z", "idTag": ID_TAG, "reservationId": 7}),
        ),
        (
            "ClearChargingProfile",
            json!({"id": 11, "connectorId": 1, "chargingProfilePurpose": "TxDefaultProfile", "stackLevel": 1}),
        ),
        ("GetCompositeSchedule", json!({"connectorId": 1, "duration": 3600, "chargingRateUnit": "W"})),
        ("SetChargingProfile", json!({"connectorId": 1, "csChargingProfiles": profile})),
        ("TriggerMessage", json!({"requestedMessage": "StatusNotification", "connectorId": 1})),
    ]
}

/// The CALLRESULT status each answer of the Python station carries (None: no status).
fn expected_status(action: &str) -> Option<&'static str> {
    match action {
        "GetConfiguration" | "GetDiagnostics" | "UpdateFirmware" | "GetLocalListVersion" => None,
        "UnlockConnector" => Some("Unlocked"),
        _ => Some("Accepted"),
    }
}

/// The Charging Point ID column of the command's rows (SPEC: connectorId of the payload; for
/// RemoteStopTransaction the transaction's connector).
fn expected_connector(action: &str) -> Option<i64> {
    match action {
        "ChangeAvailability"
        | "RemoteStartTransaction"
        | "RemoteStopTransaction"
        | "ReserveNow"
        | "ClearChargingProfile"
        | "GetCompositeSchedule"
        | "SetChargingProfile"
        | "TriggerMessage" => Some(1),
        "UnlockConnector" => Some(2),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn python_station_answers_all_central_system_commands() {
    let Some(py) = python() else { return };
    let (srv, dir) = start_server("commands").await;
    let api = Api::new(&srv);
    let station = "PY-INTEROP-CMD";
    api.setup("interop-cmd-site", "Interop Commands", "debug", station).await;

    let mut child = python_command(&py, &srv.ocpp_url(), station, &["--stay", "120", "--until-eof"])
        .stdin(Stdio::piped())
        .spawn()
        .expect("charge_point.py starts");
    let stdin = child.stdin.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let stderr_task = tokio::spawn(async move {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s).await;
        s
    });
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen: Vec<Value> = Vec::new();

    // Wait for the script to finish its session and report "ready".
    let ready = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.expect("read stdout") {
            if let Ok(v) = serde_json::from_str::<Value>(&line) {
                seen.push(v.clone());
                if v["event"] == "ready" {
                    return Some(v);
                }
                if v["event"] == "summary" {
                    return None;
                }
            }
        }
        None
    })
    .await
    .expect("charge_point.py gets ready within 60 s");
    let Some(ready) = ready else {
        drop(stdin);
        let _ = child.wait().await;
        panic!("charge_point.py ended before it was ready: {seen:?}\nstderr:\n{}", stderr_task.await.unwrap());
    };
    let tx = ready["transaction_id"].as_i64().expect("transaction id in the ready line");
    api.station_until(station, "connected=true", |v| v["connected"] == true).await;

    // Send every command; collect the outcome of each before asserting.
    let cmds = commands(tx);
    let mut report = Vec::new();
    let mut failures = Vec::new();
    let mut answers = std::collections::HashMap::new();
    for (action, payload) in &cmds {
        let (code, answer) = api
            .send(
                reqwest::Method::POST,
                &format!("/api/v1/stations/{station}/commands/{action}"),
                Some(payload.clone()),
            )
            .await;
        let mut problem = None;
        if code != 200 || answer["message_type"] != "CALLRESULT" {
            problem = Some(format!("HTTP {code}: {answer}"));
        } else if let Some(st) = expected_status(action) {
            if answer["payload"]["status"] != st {
                problem = Some(format!("status {} instead of {st}: {answer}", answer["payload"]["status"]));
            }
        }
        report.push(format!(
            "  {:<24} {}",
            action,
            match &problem {
                None => format!("ok   {}", answer["payload"]),
                Some(p) => format!("FAIL {p}"),
            }
        ));
        if let Some(p) = problem {
            failures.push(format!("{action}: {p}"));
        }
        answers.insert(*action, answer);
    }
    // Content checks of answers that carry data.
    let gc = &answers["GetConfiguration"];
    assert_eq!(gc["payload"]["configurationKey"][0]["key"], "HeartbeatInterval", "{gc}");
    assert_eq!(gc["payload"]["unknownKey"], json!(["NoSuchKey"]), "{gc}");
    let gd = &answers["GetDiagnostics"];
    assert_eq!(gd["payload"]["fileName"], "diagnostics-interop.log", "{gd}");
    let lv = &answers["GetLocalListVersion"];
    assert_eq!(lv["payload"]["listVersion"], 1, "{lv}");
    let cs = &answers["GetCompositeSchedule"];
    assert_eq!(cs["payload"]["connectorId"], 1, "{cs}");

    // Let the station go and collect what it printed.
    drop(stdin);
    let rest = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.expect("read stdout") {
            if let Ok(v) = serde_json::from_str::<Value>(&line) {
                seen.push(v);
            }
        }
        child.wait().await.expect("wait")
    })
    .await
    .expect("charge_point.py leaves within 30 s of stdin closing");
    let stderr_text = stderr_task.await.unwrap();
    println!("commands through the API to the ocpp-library station:\n{}", report.join("\n"));
    let run = ScriptRun { code: rest.code(), lines: seen, stderr: stderr_text };
    let sum = run.assert_ok().clone();

    // What the library received and validated against the official schemas.
    let rejected: Vec<&Value> = run.lines.iter().filter(|l| l["event"] == "command_rejected").collect();
    assert!(rejected.is_empty(), "the ocpp library rejected our requests as schema-invalid: {rejected:#?}");
    for (action, payload) in commands(tx) {
        let got = run
            .lines
            .iter()
            .find(|l| l["event"] == "command" && l["action"] == action)
            .unwrap_or_else(|| panic!("the station did not receive {action}: summary {sum}"));
        assert_eq!(got["valid"], true, "{got}");
        let keys = |v: &Value| v.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>()).unwrap_or_default();
        assert_eq!(keys(&got["payload"]), keys(&payload), "{action}: the station received the fields we sent: {got}");
    }
    assert!(failures.is_empty(), "commands that did not work:\n{}", failures.join("\n"));

    // The message log (site at debug): each command out as CALL, its answer in as CALLRESULT.
    let logs = api
        .logs_until(station, "the CALLRESULT rows of all commands", |r| {
            commands(tx).iter().all(|(a, _)| !rows(r, a, "CALLRESULT").is_empty()) && events(r, "Disconnected") >= 1
        })
        .await;
    let t = table(&logs);
    for (action, _) in commands(tx) {
        let calls: Vec<&Value> = rows(&logs, action, "CALL").into_iter().filter(|r| r["direction"] == "out").collect();
        assert_eq!(calls.len(), 1, "{action}: one out CALL row:\n{t}");
        for c in calls {
            let answer = logs
                .iter()
                .find(|r| r["message_type"] == "CALLRESULT" && r["unique_id"] == c["unique_id"])
                .unwrap_or_else(|| panic!("{action}: no CALLRESULT row for {c}:\n{t}"));
            assert_eq!(answer["action"], action, "a CALLRESULT row has the action of its CALL: {answer}");
            assert_eq!(answer["direction"], "in", "{answer}");
            assert_eq!(c["connector_id"].as_i64(), expected_connector(action), "{action} Charging Point ID: {c}");
            assert_eq!(answer["connector_id"].as_i64(), expected_connector(action), "{action} answer: {answer}");
            assert_eq!(answer["status"].as_str(), expected_status(action), "{action} Status column: {answer}");
            assert!(c["validation_error"].is_null() && answer["validation_error"].is_null(), "{c} {answer}");
        }
    }

    let t0 = Instant::now();
    srv.stop().await;
    println!("server stopped in {:?}", t0.elapsed());
    let _ = std::fs::remove_dir_all(dir);
}

// ---- test 3: shutdown with the station connected -----------------------------------------

/// `Running::stop` closes the station's connection (1001), lets the log pipeline drain into
/// the store and returns promptly; a server started again on the same data dir shows every row.
#[tokio::test(flavor = "multi_thread")]
async fn python_station_rows_survive_shutdown_and_stop_is_prompt() {
    let Some(py) = python() else { return };
    let (srv, dir) = start_server("shutdown").await;
    let api = Api::new(&srv);
    let station = "PY-INTEROP-STOP";
    api.setup("interop-stop-site", "Interop Stop", "debug", station).await;

    let mut child = python_command(&py, &srv.ocpp_url(), station, &["--stay", "120"])
        .stdin(Stdio::null())
        .spawn()
        .expect("charge_point.py starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let ready = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.expect("read stdout") {
            if line.contains("\"ready\"") || line.contains("\"summary\"") {
                return line;
            }
        }
        String::new()
    })
    .await
    .expect("charge_point.py gets ready within 60 s");
    assert!(ready.contains("\"ready\""), "charge_point.py did not get ready: {ready}");

    // Stop right away: no waiting for the log pipeline first.
    let t0 = Instant::now();
    srv.stop().await;
    let took = t0.elapsed();
    println!("server stopped in {took:?}");
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("the station notices the server closed its connection")
        .expect("wait");
    println!("charge_point.py after the server stopped: {status}");

    // The same data dir, a new server: every row of the session is there.
    let srv2 = server::start(ServeArgs::for_test(dir.clone(), TOKEN)).await.expect("server restarts");
    let api2 = Api::new(&srv2);
    let logs = api2
        .logs_until(station, "the rows of the session and the Disconnected event", |r| {
            events(r, "Disconnected") == 1 && rows(r, "StatusNotification", "CALLRESULT").len() == 8
        })
        .await;
    let t = table(&logs);
    let disc = logs.iter().find(|r| r["action"] == "Disconnected").unwrap();
    assert_eq!(disc["payload"]["code"], 1001, "the server closes with 1001 (going away): {disc}");
    for (action, n) in [("Heartbeat", 1), ("MeterValues", 3), ("StopTransaction", 1), ("DataTransfer", 1)] {
        assert_eq!(rows(&logs, action, "CALLRESULT").len(), n, "{action} rows kept through the shutdown:\n{t}");
    }
    srv2.stop().await;
    let _ = std::fs::remove_dir_all(dir);

    assert!(
        took < Duration::from_secs(5),
        "Running::stop took {took:?}: the log pipeline should drain and stop within seconds \
         (see the report: the backfill task of logs/capture.rs keeps the in-process queue open, \
         so the indexer never ends and stop() waits its whole 15 s timeout)"
    );
}

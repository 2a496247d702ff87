//! Beyond one machine, against the real RabbitMQ and PostgreSQL on 127.0.0.1: two gateway
//! processes, one indexer and one API process. Every frame the stations and gateways
//! exchange is stored exactly once, through an indexer kill -9, a gateway restart and the
//! broker closing every connection; a command reaches a station on either gateway.
//!
//! Skips with a message when a service is absent; fails under CI=true.

mod common;
use chargewatch_sim::SimConfig;
use common::TOKEN;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const AMQP: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

fn database_url() -> String {
    std::env::var("CHARGEWATCH_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

fn reachable(addr: &str) -> bool {
    std::net::TcpStream::connect_timeout(&addr.parse().unwrap(), Duration::from_secs(2)).is_ok()
}

fn services_or_skip() -> bool {
    let ok = reachable("127.0.0.1:5672") && reachable("127.0.0.1:5432");
    if !ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "RabbitMQ or PostgreSQL not reachable on 127.0.0.1 under CI=true"
        );
        eprintln!("SKIPPED: cluster test needs RabbitMQ on 127.0.0.1:5672 and PostgreSQL on 127.0.0.1:5432");
    }
    ok
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// One `chargewatch serve` process; its last line (`chargewatch-final {…}`) is collected.
struct Proc {
    child: Child,
    finals: Arc<Mutex<Vec<Value>>>,
    http: u16,
    ocpp: u16,
}

struct Cluster {
    dir: std::path::PathBuf,
    prefix: String,
    schema: String,
    finals: Arc<Mutex<Vec<Value>>>,
}

impl Cluster {
    fn spawn(&self, role: &str, http: u16, ocpp: u16) -> Proc {
        self.spawn_in(&self.dir, role, http, ocpp, &[])
    }

    /// A process with its own data dir (a process on another host) and extra flags.
    fn spawn_in(&self, dir: &std::path::Path, role: &str, http: u16, ocpp: u16, extra: &[&str]) -> Proc {
        let mut child = Command::new(env!("CARGO_BIN_EXE_chargewatch"))
            .args(["serve", "--role", role, "--amqp-url", AMQP, "--amqp-prefix", &self.prefix])
            .args(["--database-url", &database_url(), "--database-schema", &self.schema])
            .args(["--data-dir", dir.to_str().unwrap(), "--admin-token", TOKEN])
            .args(extra)
            .args(["--http-listen", &format!("127.0.0.1:{http}"), "--ocpp-listen", &format!("127.0.0.1:{ocpp}")])
            .args(["--accept-unknown-stations", "--default-log-level", "debug"])
            .env("CHARGEWATCH_OCPP_FRAMES_PER_SECOND", "0")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .spawn()
            .expect("chargewatch starts");
        let out = child.stdout.take().unwrap();
        let finals = self.finals.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if let Some(j) = line.strip_prefix("chargewatch-final ") {
                    finals.lock().unwrap().push(serde_json::from_str(j).unwrap());
                }
            }
        });
        Proc { child, finals: self.finals.clone(), http, ocpp }
    }
}

impl Drop for Proc {
    /// A failed test leaves no process behind.
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

impl Proc {
    async fn wait_healthy(&self) {
        for _ in 0..200 {
            if let Ok(r) = reqwest::get(format!("http://127.0.0.1:{}/health", self.http)).await {
                if r.status() == 200 {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("process on :{} never became healthy", self.http);
    }

    /// SIGTERM and wait: the process closes its chargers, flushes the publisher and
    /// prints its final counters.
    fn terminate(mut self) {
        let before = self.finals.lock().unwrap().len();
        unsafe_kill(self.child.id(), "-TERM");
        let _ = self.child.wait();
        for _ in 0..50 {
            if self.finals.lock().unwrap().len() > before {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("no final counters printed");
    }

    fn kill9(mut self) {
        unsafe_kill(self.child.id(), "-KILL");
        let _ = self.child.wait();
    }
}

fn unsafe_kill(pid: u32, sig: &str) {
    Command::new("kill").args([sig, &pid.to_string()]).status().unwrap();
}

fn sim(url: String, prefix: &str, stations: usize) -> SimConfig {
    SimConfig {
        url,
        stations,
        connectors: 2,
        id_prefix: prefix.into(),
        fault_probability: 0.02,
        transaction_interval: Duration::from_secs(60),
        transaction_duration: Duration::from_secs(120),
        meter_interval: Duration::from_secs(10),
        time_scale: 30.0,
        heartbeat_interval: Some(Duration::from_secs(2)),
        ..SimConfig::default()
    }
}

async fn stored(schema: &str) -> u64 {
    let store = chargewatch_logstore_postgres::PgLogStore::connect(&database_url(), schema).await.unwrap();
    use chargewatch_logstore::LogStore;
    store.stats().await.unwrap().records
}

#[tokio::test(flavor = "multi_thread")]
async fn two_gateways_one_indexer_one_api_lose_nothing() {
    if !services_or_skip() {
        return;
    }
    let dir = common::temp_dir("cluster");
    let run = uuid::Uuid::new_v4().simple().to_string();
    let c = Cluster {
        dir: dir.clone(),
        prefix: format!("cwtest-{run}"),
        schema: format!("cw_cluster_{run}"),
        finals: Arc::default(),
    };
    let api = c.spawn("api", free_port(), free_port());
    api.wait_healthy().await;
    let mut indexer = c.spawn("indexer", free_port(), free_port());
    let (ga_ports, gb_ports) = ((free_port(), free_port()), (free_port(), free_port()));
    // Gateway A shares the API process's data dir (same host); gateway B has its own and
    // asks the API process for its state through RabbitMQ (another host).
    let gb_dir = common::temp_dir("cluster-gb");
    let remote = ["--gateway-state", "remote"];
    let ga = c.spawn("gateway", ga_ports.0, ga_ports.1);
    let gb = c.spawn_in(&gb_dir, "gateway", gb_ports.0, gb_ports.1, &remote);
    for p in [&indexer, &ga, &gb] {
        p.wait_healthy().await;
    }
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let run_sim = |port: u16, prefix: &str| {
        let mut rx = stop_rx.clone();
        let config = sim(format!("ws://127.0.0.1:{port}/ocpp"), prefix, 4);
        tokio::spawn(chargewatch_sim::run(config, async move {
            let _ = rx.wait_for(|s| *s).await;
        }))
    };
    let sim_a = run_sim(ga.ocpp, "GA-");
    let sim_b = run_sim(gb.ocpp, "GB-");
    tokio::time::sleep(Duration::from_secs(4)).await;

    // A command from the API process reaches stations on either gateway.
    let http = reqwest::Client::new();
    for station in ["GA-0001", "GB-0002"] {
        let url = format!("http://127.0.0.1:{}/api/v1/stations/{station}/commands/GetLocalListVersion", api.http);
        let resp = http.post(url).bearer_auth(TOKEN).json(&json!({})).send().await.unwrap();
        let status = resp.status();
        let body: Value = resp.json().await.unwrap();
        assert_eq!(status, 200, "{station}: {body}");
        assert_eq!(body["message_type"], "CALLRESULT", "{station}: {body}");
    }
    let url = format!("http://127.0.0.1:{}/api/v1/stations/NOBODY/commands/ClearCache", api.http);
    let missing = http.post(url).bearer_auth(TOKEN).json(&json!({})).send().await.unwrap();
    assert_eq!(missing.status(), 404, "unknown station");

    // kill -9 the indexer mid-stream, then start another.
    indexer.kill9();
    tokio::time::sleep(Duration::from_secs(2)).await;
    indexer = c.spawn("indexer", free_port(), free_port());
    indexer.wait_healthy().await;
    tokio::time::sleep(Duration::from_secs(2)).await;

    // Restart gateway B; its stations reconnect to the new process.
    gb.terminate();
    let gb = c.spawn_in(&gb_dir, "gateway", gb_ports.0, gb_ports.1, &remote);
    gb.wait_healthy().await;
    tokio::time::sleep(Duration::from_secs(3)).await;

    // The broker closes every connection mid-stream.
    let closed = Command::new("rabbitmqctl").args(["close_all_connections", "chargewatch cluster test"]).output();
    assert!(closed.is_ok_and(|o| o.status.success()), "rabbitmqctl close_all_connections");
    tokio::time::sleep(Duration::from_secs(5)).await;

    stop_tx.send(true).unwrap();
    let (sa, sb) = (sim_a.await.unwrap(), sim_b.await.unwrap());
    assert!(sa.frames_sent > 50 && sb.frames_sent > 50, "{sa} / {sb}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    ga.terminate();
    gb.terminate();

    // Every record the gateways produced is stored, once.
    let finals = c.finals.lock().unwrap().clone();
    let produced: u64 = finals.iter().map(|f| f["pipeline"]["records_published"].as_u64().unwrap()).sum();
    let dropped: u64 =
        finals.iter().map(|f| f["amqp"]["dropped"].as_u64().unwrap_or(0) + f["amqp_unsent"].as_u64().unwrap()).sum();
    assert_eq!(dropped, 0, "{finals:?}");
    let mut count = 0;
    for _ in 0..120 {
        count = stored(&c.schema).await;
        if count >= produced {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(count, produced, "stored vs produced by {} gateway lifetimes", finals.len());

    // The remote gateway's stations booted into the API process's state store.
    let api_client = common::Api { base: format!("http://127.0.0.1:{}", api.http), http: reqwest::Client::new() };
    let station = api_client.get("/api/v1/stations/GB-0001").await;
    assert!(station["vendor"].is_string(), "booted through the remote gateway: {station}");
    indexer.terminate();
    api.terminate();
    let _ = std::fs::remove_dir_all(dir);
    let _ = std::fs::remove_dir_all(gb_dir);
}

/// A test station on a gateway process, speaking raw OCPP-J.
async fn station_on(ocpp: u16, id: &str, basic: Option<&str>) -> Result<common::Station, u16> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut req = format!("ws://127.0.0.1:{ocpp}/ocpp/{id}").into_client_request().unwrap();
    req.headers_mut().insert("Sec-WebSocket-Protocol", "ocpp1.6".parse().unwrap());
    if let Some(password) = basic {
        use base64::Engine;
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{password}"));
        req.headers_mut().insert("Authorization", format!("Basic {token}").parse().unwrap());
    }
    match tokio_tungstenite::connect_async(req).await {
        Ok((ws, _)) => Ok(common::Station { ws, next_id: 1 }),
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => Err(r.status().as_u16()),
        Err(e) => panic!("{id}: {e}"),
    }
}

/// A gateway with its own data dir (`--gateway-state remote`) answers chargers from the API
/// process's state: registration, id tags, transactions, charger passwords, log levels; it
/// says so clearly while no API process answers, and recovers when one is back.
#[tokio::test(flavor = "multi_thread")]
async fn a_gateway_on_another_host_answers_from_the_api_process() {
    if !services_or_skip() {
        return;
    }
    let run = uuid::Uuid::new_v4().simple().to_string();
    let c = Cluster {
        dir: common::temp_dir("remote-api"),
        prefix: format!("cwtest-{run}"),
        schema: format!("cw_remote_{run}"),
        finals: Arc::default(),
    };
    let api_ports = (free_port(), free_port());
    let api = c.spawn_in(&c.dir, "api,indexer", api_ports.0, api_ports.1, &[]);
    api.wait_healthy().await;
    let gw_dir = common::temp_dir("remote-gw");
    let gw = c.spawn_in(&gw_dir, "gateway", free_port(), free_port(), &["--gateway-state", "remote"]);
    gw.wait_healthy().await;
    let http = common::Api { base: format!("http://127.0.0.1:{}", api.http), http: reqwest::Client::new() };

    // Boot and transactions: the answers come from the API process's state store.
    let mut st = station_on(gw.ocpp, "RG-1", None).await.expect("profile 0 connects");
    assert_eq!(st.boot().await["status"], "Accepted");
    let tag = json!({"idTag": "TAG-RG"});
    assert_eq!(st.ok("Authorize", tag.clone()).await["idTagInfo"]["status"], "Invalid", "unknown tag");
    let (s, v) = http.put("/api/v1/id-tags/TAG-RG", json!({"status": "Accepted"})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(st.ok("Authorize", tag).await["idTagInfo"]["status"], "Accepted", "tag known to the API process");
    let start = json!({"connectorId": 1, "idTag": "TAG-RG", "meterStart": 100, "timestamp": common::now()});
    let started = st.ok("StartTransaction", start).await;
    let tx = started["transactionId"].as_i64().expect("a transaction id");
    assert_eq!(started["idTagInfo"]["status"], "Accepted");
    let stop = json!({"transactionId": tx, "meterStop": 600, "timestamp": common::now(), "idTag": "TAG-RG"});
    st.ok("StopTransaction", stop).await;
    let t = http.get(&format!("/api/v1/transactions/{tx}")).await;
    assert_eq!((t["station_id"].as_str(), t["meter_stop"].as_i64()), (Some("RG-1"), Some(600)), "{t}");
    let station = http.get("/api/v1/stations/RG-1").await;
    assert_eq!((station["vendor"].as_str(), station["connected"].as_bool()), (Some("TestVendor"), Some(true)));
    // The StopTransaction's log record has its connector (learned from the StartTransaction).
    let stops = http.logs_until("station_id=RG-1&action=StopTransaction&message_type=CALL", |i| !i.is_empty()).await;
    assert_eq!(stops[0]["connector_id"], 1, "{}", stops[0]);

    // Many stations at once: their calls share batches, and each gets its own answer.
    let answers = futures_util::future::join_all((0..20).map(|i| async move {
        let mut s = station_on(gw.ocpp, &format!("RG-MANY-{i}"), None).await.expect("connects");
        s.boot().await;
        let tag = if i % 2 == 0 { "TAG-RG".to_string() } else { format!("NOPE-{i}") };
        let status = s.ok("Authorize", json!({"idTag": tag})).await["idTagInfo"]["status"].clone();
        (i, status)
    }))
    .await;
    for (i, status) in answers {
        assert_eq!(status, if i % 2 == 0 { "Accepted" } else { "Invalid" }, "station {i}");
    }

    // Charger passwords set through the API process protect the remote gateway.
    let (s, v) =
        http.put("/api/v1/stations/RG-2/security", json!({"profile": 1, "password": "remote-pass-1234"})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(station_on(gw.ocpp, "RG-2", None).await.err(), Some(401), "no password");
    assert_eq!(station_on(gw.ocpp, "RG-2", Some("wrong-pass-12345")).await.err(), Some(401), "wrong password");
    let mut st2 = station_on(gw.ocpp, "RG-2", Some("remote-pass-1234")).await.expect("right password");
    assert_eq!(st2.boot().await["status"], "Accepted");

    // A level change made through the API process applies in the remote gateway within 1 s:
    // a Heartbeat sent after it is not logged, while RG-2's Heartbeat sent after that is.
    http.site_with("rg-site", "none", &["RG-1"]).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let quiet = st.call("Heartbeat", json!({})).await;
    let marker = st2.call("Heartbeat", json!({})).await;
    let beats = |station: &'static str, id: Value| {
        let http = &http;
        async move {
            let query = format!("station_id={station}&action=Heartbeat&message_type=CALL");
            http.logs_until(&query, |items| items.iter().any(|r| r["unique_id"] == id)).await
        }
    };
    beats("RG-2", marker[1].clone()).await;
    let logged = http.get("/api/v1/logs?station_id=RG-1&action=Heartbeat").await;
    assert_eq!(logged["items"], json!([]), "a station at level none logs nothing: {logged}");
    assert_eq!(quiet[0], 3, "answered all the same: {quiet}");

    // Without an API process the charger gets a CALLERROR that says so, and /health degrades.
    // (Health first: a call racing the API process's exit may be lost with it and wait out
    // its timeout; once the gateway reports the API unreachable, the broker knows it too.)
    api.terminate();
    let health_url = format!("http://127.0.0.1:{}/health", gw.http);
    let mut degraded = Value::Null;
    for _ in 0..100 {
        let r = reqwest::get(&health_url).await.unwrap();
        if r.status() == 503 {
            degraded = r.json().await.unwrap();
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(degraded["checks"]["api_reachable"], false, "{degraded}");
    let answer = st.call("Heartbeat", json!({})).await;
    assert_eq!((answer[0].as_i64(), answer[2].as_str()), (Some(4), Some("InternalError")), "{answer}");
    assert!(answer[3].as_str().unwrap().contains("no API process"), "{answer}");
    let api = c.spawn_in(&c.dir, "api,indexer", api_ports.0, api_ports.1, &[]);
    api.wait_healthy().await;
    let mut back = Value::Null;
    for _ in 0..50 {
        back = st.call("Heartbeat", json!({})).await;
        if back[0] == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(back[0], 3, "answered again once an API process is back: {back}");
    drop((st, st2));
    gw.terminate();
    api.terminate();
    let _ = std::fs::remove_dir_all(&c.dir);
    let _ = std::fs::remove_dir_all(gw_dir);
}

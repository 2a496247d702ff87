//! Command routing across gateway processes and the level-change broadcast, on the real RabbitMQ.

mod common;

use chargewatch_transport_amqp::commands::{CommandBus, CommandBusError, CommandReply};
use chargewatch_transport_amqp::levels::LevelBroadcast;
use serde_json::json;
use std::time::{Duration, Instant};

/// A gateway that answers every command with `{"status":"Accepted","action":…,"echo":…}`.
async fn echo_gateway(config: &chargewatch_transport_amqp::AmqpConfig) -> CommandBus {
    let bus = CommandBus::connect(config.clone(), 16).await.unwrap();
    let mut requests = bus.take_requests().unwrap();
    tokio::spawn(async move {
        while let Some(req) = requests.recv().await {
            let payload =
                json!({"status": "Accepted", "action": req.action, "station": req.station_id, "echo": req.payload});
            req.reply.send(CommandReply::Result { payload }).await.unwrap();
        }
    });
    bus
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_reach_the_gateway_that_serves_the_station() {
    let Some(config) = common::config("commands") else { return };
    let gateway_a = echo_gateway(&config).await;
    let gateway_b = echo_gateway(&config).await;
    let api = CommandBus::connect(config.clone(), 16).await.unwrap();
    gateway_a.serve_station("CP-A").await.unwrap();
    gateway_b.serve_station("CP-B").await.unwrap();

    for station in ["CP-A", "CP-B"] {
        let reply = api.call(station, "Reset".into(), json!({"type": "Soft"}), Duration::from_secs(5)).await.unwrap();
        assert_eq!(
            reply,
            CommandReply::Result {
                payload: json!({"status": "Accepted", "action": "Reset", "station": station, "echo": {"type": "Soft"}})
            }
        );
    }

    let started = Instant::now();
    let err = api.call("CP-nowhere", "Reset".into(), json!({}), Duration::from_secs(5)).await.unwrap_err();
    assert_eq!(err, CommandBusError::NotConnected("CP-nowhere".into()));
    assert!(started.elapsed() < Duration::from_secs(1), "unroutable is known at once: {:?}", started.elapsed());

    gateway_a.release_station("CP-A").await.unwrap();
    let err = api.call("CP-A", "Reset".into(), json!({}), Duration::from_secs(5)).await.unwrap_err();
    assert!(matches!(err, CommandBusError::NotConnected(_)), "{err}");

    // A gateway that dies takes its bindings with it.
    gateway_b.close().await;
    drop(gateway_b);
    let err = api.call("CP-B", "Reset".into(), json!({}), Duration::from_secs(5)).await.unwrap_err();
    assert!(matches!(err, CommandBusError::NotConnected(_)), "{err}");
    assert_eq!(api.stats().not_connected, 3);
    common::cleanup(&config).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_gateway_times_out_and_outcomes_pass_through() {
    let Some(config) = common::config("cmdtimeout") else { return };
    let gateway = CommandBus::connect(config.clone(), 16).await.unwrap();
    let mut requests = gateway.take_requests().unwrap();
    gateway.serve_station("CP-SILENT").await.unwrap();
    gateway.serve_station("CP-GONE").await.unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Some(req) = requests.recv().await {
            if req.station_id == "CP-GONE" {
                req.reply.send(CommandReply::NotConnected).await.unwrap();
            } else {
                held.push(req); // never answered
            }
        }
    });
    let api = CommandBus::connect(config.clone(), 16).await.unwrap();
    let started = Instant::now();
    let err = api.call("CP-SILENT", "Reset".into(), json!({}), Duration::from_millis(400)).await.unwrap_err();
    assert_eq!(err, CommandBusError::Timeout(Duration::from_millis(400)));
    assert!(started.elapsed() < Duration::from_secs(2));
    let reply = api.call("CP-GONE", "Reset".into(), json!({}), Duration::from_secs(5)).await.unwrap();
    assert_eq!(reply, CommandReply::NotConnected);
    common::cleanup(&config).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn level_changes_reach_every_subscriber() {
    let Some(config) = common::config("levels") else { return };
    let a = LevelBroadcast::new(config.clone()).unwrap();
    let b = LevelBroadcast::new(config.clone()).unwrap();
    let mut sub_a = a.subscribe_levels_changed().await.unwrap();
    let mut sub_b = b.subscribe_levels_changed().await.unwrap();
    let api = LevelBroadcast::new(config.clone()).unwrap();
    api.publish_levels_changed().await.unwrap();
    for sub in [&mut sub_a, &mut sub_b] {
        let got = tokio::time::timeout(Duration::from_secs(1), sub.changed()).await;
        assert_eq!(got, Ok(true), "notification within a second");
    }
    // Nothing else pending.
    assert!(tokio::time::timeout(Duration::from_millis(200), sub_a.changed()).await.is_err());
    common::cleanup(&config).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_bus_rebinds_its_stations_after_a_connection_loss() {
    let Some(config) = common::config("cmdreconnect") else { return };
    let tag = config.connection_name.clone();
    let gateway = echo_gateway(&config).await;
    gateway.serve_station("CP-R").await.unwrap();
    // The API process uses another connection name, so only the gateway is cut off.
    let api_config =
        chargewatch_transport_amqp::AmqpConfig { connection_name: "chargewatch-api-test".into(), ..config.clone() };
    let api = CommandBus::connect(api_config, 16).await.unwrap();
    let closed = tokio::task::spawn_blocking(move || common::close_connections(&tag)).await.unwrap();
    assert_eq!(closed, 1);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match api.call("CP-R", "Reset".into(), json!({}), Duration::from_secs(2)).await {
            Ok(CommandReply::Result { .. }) => break,
            other => assert!(Instant::now() < deadline, "gateway never came back: {other:?}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(gateway.stats().reconnects, 1);
    common::cleanup(&config).await;
}

/// A server of the shared key `svc/echo` that answers with its own name.
async fn shared_server(config: &chargewatch_transport_amqp::AmqpConfig, name: &'static str) -> CommandBus {
    let bus = CommandBus::connect_serving(config.clone(), 16, vec!["svc/echo".into()]).await.unwrap();
    let mut requests = bus.take_requests().unwrap();
    tokio::spawn(async move {
        while let Some(req) = requests.recv().await {
            let payload = json!({"server": name, "n": req.payload["n"]});
            req.reply.send(CommandReply::Result { payload }).await.unwrap();
        }
    });
    bus
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_key_reaches_exactly_one_of_its_servers() {
    let Some(config) = common::config("shared") else { return };
    let client = CommandBus::connect(config.clone(), 16).await.unwrap();
    let started = Instant::now();
    let err = client.call("svc/echo", "Ask".into(), json!({}), Duration::from_secs(5)).await.unwrap_err();
    assert_eq!(err, CommandBusError::NotConnected("svc/echo".into()), "nobody serves the key yet");
    assert!(started.elapsed() < Duration::from_secs(1), "{:?}", started.elapsed());

    let a = shared_server(&config, "a").await;
    let b = shared_server(&config, "b").await;
    let mut by_server = std::collections::HashMap::<String, u32>::new();
    for n in 0..40 {
        let reply = client.call("svc/echo", "Ask".into(), json!({"n": n}), Duration::from_secs(5)).await.unwrap();
        let CommandReply::Result { payload } = reply else { panic!("{reply:?}") };
        assert_eq!(payload["n"], json!(n));
        *by_server.entry(payload["server"].as_str().unwrap().to_owned()).or_default() += 1;
    }
    let (served_a, served_b) = (a.stats().requests_received, b.stats().requests_received);
    assert_eq!(served_a + served_b, 40, "each request reached exactly one server: {by_server:?}");
    assert!(served_a > 0 && served_b > 0, "both servers took requests: {by_server:?}");

    // With one server gone the other answers everything; with both gone the key is unroutable.
    a.close().await;
    let reply = client.call("svc/echo", "Ask".into(), json!({"n": 99}), Duration::from_secs(5)).await.unwrap();
    assert_eq!(reply, CommandReply::Result { payload: json!({"server": "b", "n": 99}) });
    b.close().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let err = client.call("svc/echo", "Ask".into(), json!({}), Duration::from_secs(5)).await.unwrap_err();
    assert!(matches!(err, CommandBusError::NotConnected(_)), "{err}");
    common::cleanup(&config).await;
}

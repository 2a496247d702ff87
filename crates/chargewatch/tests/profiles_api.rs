//! End to end: a real server, a WebSocket test station answering central-system commands
//! sent through the HTTP API, and the profile-state endpoints and file endpoints.

mod common;

use common::{Api, Station, TOKEN};
use serde_json::{json, Value};

const ST: &str = "CP-PROFILES";

/// Sends `action` through the API while the station answers with `answer`; returns the
/// API's answer.
async fn command(api: &Api, station: &mut Station, action: &str, payload: Value, answer: Value) -> Value {
    let (http, url) = (api.http.clone(), format!("{}/api/v1/stations/{ST}/commands/{action}", api.base));
    let sent = tokio::spawn(async move {
        let resp = http.post(url).bearer_auth(TOKEN).json(&payload).send().await.unwrap();
        (resp.status().as_u16(), resp.json::<Value>().await.unwrap())
    });
    let call = station.recv().await;
    assert_eq!(call[0], json!(2), "{call}");
    assert_eq!(call[2], json!(action), "{call}");
    station.send_text(&json!([3, call[1], answer]).to_string()).await;
    let (status, body) = sent.await.unwrap();
    assert_eq!(status, 200, "{action}: {body}");
    assert_eq!(body["message_type"], "CALLRESULT", "{body}");
    body
}

fn multipart(boundary: &str, file_name: &str, data: &[u8]) -> Vec<u8> {
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"comment\"\r\n\r\nhello\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\n\
         Content-Type: application/gzip\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(data);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    body
}

#[tokio::test]
async fn profile_state_through_the_api() {
    let s = common::start("profiles-api").await;
    let api = Api::new(&s);
    let (code, v) = api.put(&format!("/api/v1/stations/{ST}"), json!({"site_id": null})).await;
    assert_eq!(code, 200, "{v}");
    let mut station = common::connect(&s, ST).await;
    assert_eq!(station.boot().await["status"], "Accepted");
    let files = format!("http://{}/files", s.http_addr);

    // Core.
    command(
        &api,
        &mut station,
        "GetConfiguration",
        json!({}),
        json!({"configurationKey": [
            {"key": "HeartbeatInterval", "readonly": false, "value": "300"},
            {"key": "NumberOfConnectors", "readonly": true, "value": "2"}
        ]}),
    )
    .await;
    command(
        &api,
        &mut station,
        "ChangeConfiguration",
        json!({"key": "HeartbeatInterval", "value": "120"}),
        json!({"status": "Accepted"}),
    )
    .await;
    command(
        &api,
        &mut station,
        "ChangeAvailability",
        json!({"connectorId": 2, "type": "Inoperative"}),
        json!({"status": "Scheduled"}),
    )
    .await;

    // Firmware: an operator uploads a file; the station downloads it without a token.
    let firmware: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let resp = api
        .http
        .put(format!("{}/api/v1/firmware/fw-2.0.bin", api.base))
        .bearer_auth(TOKEN)
        .body(firmware.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    let info: Value = resp.json().await.unwrap();
    assert_eq!(info["size"], 200_000);
    assert_eq!(info["download_path"], "/files/firmware/fw-2.0.bin");
    let unauth = api.http.put(format!("{}/api/v1/firmware/evil.bin", api.base)).body("x").send().await.unwrap();
    assert_eq!(unauth.status().as_u16(), 401);
    let got = api.http.get(format!("{files}/firmware/fw-2.0.bin")).send().await.unwrap();
    assert_eq!(got.status().as_u16(), 200);
    assert_eq!(got.bytes().await.unwrap().as_ref(), firmware.as_slice());
    let missing = api.http.get(format!("{files}/firmware/nope.bin")).send().await.unwrap();
    assert_eq!(missing.status().as_u16(), 404);
    let list = api.get("/api/v1/firmware").await;
    assert_eq!(list.as_array().unwrap().len(), 1);

    command(
        &api,
        &mut station,
        "UpdateFirmware",
        json!({"location": format!("{files}/firmware/fw-2.0.bin"), "retrieveDate": common::now()}),
        json!({}),
    )
    .await;
    assert_eq!(station.ok("FirmwareStatusNotification", json!({"status": "Downloading"})).await, json!({}));

    // Diagnostics: no job yet, so an upload is refused.
    let refused = api.http.put(format!("{files}/diagnostics/{ST}")).body("x").send().await.unwrap();
    assert_eq!(refused.status().as_u16(), 404);
    command(
        &api,
        &mut station,
        "GetDiagnostics",
        json!({"location": format!("{files}/diagnostics/{ST}")}),
        json!({"fileName": "diag.tar.gz"}),
    )
    .await;
    station.ok("DiagnosticsStatusNotification", json!({"status": "Uploading"})).await;
    // 2 MiB: more than the API's default body limit, well under the diagnostics cap.
    let diag: Vec<u8> = (0..2 * 1024 * 1024u32).map(|i| (i % 253) as u8).collect();
    let up = api
        .http
        .post(format!("{files}/diagnostics/{ST}"))
        .header("Content-Type", "multipart/form-data; boundary=XBOUNDARYX")
        .body(multipart("XBOUNDARYX", "diag.tar.gz", &diag))
        .send()
        .await
        .unwrap();
    assert_eq!(up.status().as_u16(), 201);
    let up: Value = up.json().await.unwrap();
    assert_eq!(up["size"], diag.len());
    assert_eq!(up["file_name"], "diag.tar.gz");
    station.ok("DiagnosticsStatusNotification", json!({"status": "Uploaded"})).await;
    let job_id = up["job_id"].as_i64().unwrap();
    let dl = api
        .http
        .get(format!("{}/api/v1/stations/{ST}/diagnostics/{job_id}/file", api.base))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(dl.status().as_u16(), 200);
    assert!(dl.headers()["content-disposition"].to_str().unwrap().contains("diag.tar.gz"));
    assert_eq!(dl.bytes().await.unwrap().as_ref(), diag.as_slice());
    let no_token =
        api.http.get(format!("{}/api/v1/stations/{ST}/diagnostics/{job_id}/file", api.base)).send().await.unwrap();
    assert_eq!(no_token.status().as_u16(), 401);
    // The job is closed now.
    let again = api.http.put(format!("{files}/diagnostics/{ST}")).body("x").send().await.unwrap();
    assert_eq!(again.status().as_u16(), 404);
    // A second job, uploaded with PUT to a location with a file name.
    command(
        &api,
        &mut station,
        "GetDiagnostics",
        json!({"location": format!("{files}/diagnostics/{ST}")}),
        json!({"fileName": "second.log"}),
    )
    .await;
    let put = api.http.put(format!("{files}/diagnostics/{ST}/second.log")).body("log lines\n").send().await.unwrap();
    assert_eq!(put.status().as_u16(), 201);

    // Local list, reservation, smart charging, trigger.
    command(
        &api,
        &mut station,
        "SendLocalList",
        json!({"listVersion": 3, "updateType": "Full", "localAuthorizationList": [
            {"idTag": "TAG-A", "idTagInfo": {"status": "Accepted"}},
            {"idTag": "TAG-B", "idTagInfo": {"status": "Blocked"}}
        ]}),
        json!({"status": "Accepted"}),
    )
    .await;
    command(&api, &mut station, "GetLocalListVersion", json!({}), json!({"listVersion": 3})).await;
    let expiry = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    command(
        &api,
        &mut station,
        "ReserveNow",
        json!({"connectorId": 1, "expiryDate": expiry, "idTag": "TAG-A", "reservationId": 42}),
        json!({"status": "Accepted"}),
    )
    .await;
    let profile = json!({
        "chargingProfileId": 7, "stackLevel": 1, "chargingProfilePurpose": "TxDefaultProfile",
        "chargingProfileKind": "Absolute",
        "chargingSchedule": {"chargingRateUnit": "A", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.0}]}
    });
    command(
        &api,
        &mut station,
        "SetChargingProfile",
        json!({"connectorId": 1, "csChargingProfiles": profile}),
        json!({"status": "Accepted"}),
    )
    .await;
    command(
        &api,
        &mut station,
        "GetCompositeSchedule",
        json!({"connectorId": 1, "duration": 600}),
        json!({"status": "Accepted", "connectorId": 1, "scheduleStart": common::now(),
               "chargingSchedule": {"chargingRateUnit": "A", "duration": 600,
                                    "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.0}]}}),
    )
    .await;
    command(
        &api,
        &mut station,
        "TriggerMessage",
        json!({"requestedMessage": "MeterValues", "connectorId": 1}),
        json!({"status": "Rejected"}),
    )
    .await;

    // Each part on its own endpoint...
    let base = format!("/api/v1/stations/{ST}");
    let cfg = api.get(&format!("{base}/configuration")).await;
    let hb = cfg.as_array().unwrap().iter().find(|k| k["key"] == "HeartbeatInterval").unwrap();
    assert_eq!(hb["value"], "120");
    assert_eq!(hb["change_status"], "Accepted");
    let av = api.get(&format!("{base}/availability")).await;
    assert_eq!(
        av,
        json!([{"connector_id": 2, "type": "Inoperative", "status": "Scheduled", "updated_at": av[0]["updated_at"]}])
    );
    let fw = api.get(&format!("{base}/firmware-jobs")).await;
    assert_eq!(fw[0]["status"], "Downloading");
    let dj = api.get(&format!("{base}/diagnostics-jobs")).await;
    assert_eq!(dj.as_array().unwrap().len(), 2);
    assert_eq!(dj[0]["file"]["file_name"], "second.log");
    assert_eq!(dj[1]["status"], "Uploaded");
    assert_eq!(dj[1]["file"]["size"], diag.len());
    let ll = api.get(&format!("{base}/local-list")).await;
    assert_eq!((ll["sent_version"].clone(), ll["reported_version"].clone()), (json!(3), json!(3)));
    assert_eq!(ll["entries"].as_array().unwrap().len(), 2);
    let rs = api.get(&format!("{base}/reservations")).await;
    assert_eq!(rs[0]["reservation_id"], 42);
    assert_eq!(rs[0]["outcome"], "active");
    let cp = api.get(&format!("{base}/charging-profiles")).await;
    assert_eq!(cp[0]["charging_profile_id"], 7);
    assert_eq!(cp[0]["profile"], profile);
    let cs = api.get(&format!("{base}/composite-schedules")).await;
    assert_eq!(cs[0]["duration"], 600);
    let tr = api.get(&format!("{base}/triggers")).await;
    assert_eq!(tr[0]["requested_message"], "MeterValues");
    assert_eq!(tr[0]["status"], "Rejected");

    // ...and all at once.
    let all = api.get(&format!("{base}/profile-state")).await;
    assert_eq!(all["station_id"], ST);
    assert_eq!(all["configuration"], cfg);
    assert_eq!(all["charging_profiles"], cp);
    assert_eq!(all["triggers"], tr);

    // A station that does not exist.
    for part in ["profile-state", "configuration", "reservations"] {
        let (code, body) = api.send(reqwest::Method::GET, &format!("/api/v1/stations/NOPE/{part}"), None).await;
        assert_eq!(code, 404, "{body}");
        assert_eq!(body["error"], "not_found");
    }
}

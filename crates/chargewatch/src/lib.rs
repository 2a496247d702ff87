//! Chargewatch: an OCPP 1.6-J central system whose headline feature is the OCPP message log.
//! See ARCHITECTURE.md for the map.

pub mod api;
pub mod cluster;
pub mod config;
pub mod csms;
pub mod gateway;
pub mod logs;
pub mod security;
pub mod server;
pub mod simulate;
pub mod state;
pub mod ui;

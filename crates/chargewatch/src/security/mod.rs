//! Charger authentication (OCPP 1.6 security whitepaper profiles 1–3) and abuse limits of
//! the OCPP endpoint.

use clap::Args;

/// Flags of charger security and abuse limits.
#[derive(Args, Debug, Clone, Default)]
pub struct SecurityArgs {}

//! `chargewatch simulate`: wiring of the simulator crate to the command line.

use clap::Args;

#[derive(Args, Debug, Clone)]
pub struct SimulateArgs {
    /// Base URL of the central system's OCPP endpoint; station ids are appended.
    #[arg(long, env = "CHARGEWATCH_SIM_URL", default_value = "ws://127.0.0.1:9000/ocpp")]
    pub url: String,
}

pub async fn run(_args: SimulateArgs) -> anyhow::Result<()> {
    anyhow::bail!("simulate is not wired yet")
}

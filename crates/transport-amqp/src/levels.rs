//! "Log levels changed" broadcast (SPEC.md: a level change applies in every gateway process
//! within one second). Any process calls [`LevelBroadcast::publish_levels_changed`] after
//! changing a level in the shared store; every process holds a [`LevelSubscription`] (its
//! own exclusive auto-delete queue on the fanout exchange `chargewatch.levels`) and reloads
//! the levels from the store when it fires. Notifications coalesce; after a reconnect the
//! subscription fires once, since changes may have been missed meanwhile.

use crate::config::AmqpConfig;
use crate::conn::{connect, AmqpError, Backoff};
use futures_util::StreamExt;
use lapin::options::{
    BasicConsumeOptions, BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, Consumer, ExchangeKind};
use tokio::sync::{mpsc, Mutex};
use tokio::task::JoinHandle;

/// Publishes and subscribes to level-change notifications.
pub struct LevelBroadcast {
    config: AmqpConfig,
    publisher: Mutex<Option<(Connection, Channel)>>,
}

impl LevelBroadcast {
    /// Connects lazily, on the first publish or subscribe.
    pub fn new(config: AmqpConfig) -> Result<Self, AmqpError> {
        config.validate().map_err(AmqpError::Config)?;
        Ok(LevelBroadcast { config, publisher: Mutex::new(None) })
    }

    /// Tells every subscribed process that levels changed (waits for the broker's confirm).
    pub async fn publish_levels_changed(&self) -> Result<(), AmqpError> {
        let mut publisher = self.publisher.lock().await;
        let mut last_error = None;
        for _ in 0..2 {
            if !publisher.as_ref().is_some_and(|(c, _)| c.status().connected()) {
                *publisher = None;
                let conn = connect(&self.config, "levels").await?;
                let channel = conn.create_channel().await?;
                declare(&channel, &self.config).await?;
                channel.confirm_select(ConfirmSelectOptions::default()).await?;
                *publisher = Some((conn, channel));
            }
            let (_, channel) = publisher.as_ref().expect("connected");
            let body = serde_json::to_vec(&serde_json::json!({
                "v": 1, "event": "levels_changed", "at": chrono::Utc::now().to_rfc3339(),
            }))
            .expect("serializes");
            let props = BasicProperties::default().with_content_type("application/json".into());
            let sent = async {
                channel
                    .basic_publish(
                        self.config.levels_exchange.as_str().into(),
                        "".into(),
                        BasicPublishOptions::default(),
                        &body,
                        props,
                    )
                    .await?
                    .await
            };
            match sent.await {
                Ok(_) => return Ok(()),
                Err(e) => {
                    *publisher = None;
                    last_error = Some(e);
                }
            }
        }
        Err(AmqpError::Broker(last_error.expect("an attempt failed")))
    }

    /// Subscribes this process: the subscription is in place when this returns.
    pub async fn subscribe_levels_changed(&self) -> Result<LevelSubscription, AmqpError> {
        let (conn, consumer) = subscribe(&self.config).await?;
        let (tx, rx) = mpsc::channel(1);
        let task = tokio::spawn(forward(self.config.clone(), conn, consumer, tx));
        Ok(LevelSubscription { rx, task })
    }
}

/// Fires when levels changed somewhere (or possibly did, after a reconnect).
pub struct LevelSubscription {
    rx: mpsc::Receiver<()>,
    task: JoinHandle<()>,
}

impl LevelSubscription {
    /// Waits for the next notification; several changes in a row may arrive as one.
    pub async fn changed(&mut self) -> bool {
        self.rx.recv().await.is_some()
    }
}

impl Drop for LevelSubscription {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn declare(channel: &Channel, config: &AmqpConfig) -> Result<(), lapin::Error> {
    channel
        .exchange_declare(
            config.levels_exchange.as_str().into(),
            ExchangeKind::Fanout,
            ExchangeDeclareOptions { durable: true, ..Default::default() },
            FieldTable::default(),
        )
        .await
}

async fn subscribe(config: &AmqpConfig) -> Result<(Connection, Consumer), AmqpError> {
    let conn = connect(config, "levels-subscriber").await?;
    let channel = conn.create_channel().await?;
    declare(&channel, config).await?;
    let private = QueueDeclareOptions { exclusive: true, auto_delete: true, ..Default::default() };
    let queue = channel.queue_declare("".into(), private, FieldTable::default()).await?;
    channel
        .queue_bind(
            queue.name().clone(),
            config.levels_exchange.as_str().into(),
            "".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let consumer = channel
        .basic_consume(
            queue.name().clone(),
            "levels".into(),
            BasicConsumeOptions { no_ack: true, ..Default::default() },
            FieldTable::default(),
        )
        .await?;
    Ok((conn, consumer))
}

async fn forward(config: AmqpConfig, conn: Connection, consumer: Consumer, tx: mpsc::Sender<()>) {
    let mut backoff = Backoff::new(&config);
    let mut current = Some((conn, consumer));
    loop {
        let (conn, mut consumer) = match current.take() {
            Some(c) => c,
            None => match subscribe(&config).await {
                Ok(c) => {
                    backoff.reset();
                    let _ = tx.try_send(());
                    c
                }
                Err(e) => {
                    let delay = backoff.next_delay();
                    tracing::warn!(error = %e, retry_in = ?delay, "level subscription cannot connect");
                    tokio::time::sleep(delay).await;
                    continue;
                }
            },
        };
        while let Some(Ok(_)) = consumer.next().await {
            if tx.is_closed() {
                return;
            }
            // Full means a notification is already waiting: coalesce.
            let _ = tx.try_send(());
        }
        tracing::warn!("level subscription lost its connection; reconnecting");
        let _ = conn.close(320, "reconnecting".into()).await;
        tokio::time::sleep(backoff.next_delay()).await;
    }
}

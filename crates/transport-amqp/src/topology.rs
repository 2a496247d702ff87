//! The log-record topology: the exchange, the indexer queue and its dead-letter queue.
//! Declared (idempotently) by publishers and consumers alike, so that records published
//! before any indexer ever started are kept, not dropped as unroutable.

use crate::config::AmqpConfig;
use crate::conn::AmqpError;
use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, Connection, ExchangeKind};

/// What kind of queue the indexers consume.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueKind {
    /// A replicated quorum queue (`x-queue-type: quorum`).
    Quorum,
    /// A classic durable queue: the broker refused a quorum queue, or it was not asked for.
    Classic,
}

/// Declares the topology; returns a channel that is still open (a refused quorum declaration
/// closes the channel it was made on) and the kind of queue in use.
pub(crate) async fn declare_logs(conn: &Connection, config: &AmqpConfig) -> Result<(Channel, QueueKind), AmqpError> {
    let channel = conn.create_channel().await?;
    let durable = ExchangeDeclareOptions { durable: true, ..Default::default() };
    let dead_exchange = format!("{}.dead", config.exchange);
    let dead_queue = format!("{}.dead", config.queue);
    channel
        .exchange_declare(config.exchange.as_str().into(), ExchangeKind::Topic, durable, FieldTable::default())
        .await?;
    channel
        .exchange_declare(dead_exchange.as_str().into(), ExchangeKind::Fanout, durable, FieldTable::default())
        .await?;
    let queue_durable = QueueDeclareOptions { durable: true, ..Default::default() };
    channel.queue_declare(dead_queue.as_str().into(), queue_durable, FieldTable::default()).await?;
    channel
        .queue_bind(
            dead_queue.as_str().into(),
            dead_exchange.as_str().into(),
            "".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;

    let mut args = FieldTable::default();
    args.insert("x-dead-letter-exchange".into(), AMQPValue::LongString(dead_exchange.as_str().into()));
    let (channel, kind) = if config.quorum_queue {
        let mut quorum_args = args.clone();
        quorum_args.insert("x-queue-type".into(), AMQPValue::LongString("quorum".into()));
        match channel.queue_declare(config.queue.as_str().into(), queue_durable, quorum_args).await {
            Ok(_) => (channel, QueueKind::Quorum),
            Err(e) => {
                tracing::warn!(
                    queue = %config.queue, error = %e,
                    "RabbitMQ refused a quorum queue; falling back to a classic durable queue"
                );
                let channel = conn.create_channel().await?;
                channel.queue_declare(config.queue.as_str().into(), queue_durable, args).await?;
                (channel, QueueKind::Classic)
            }
        }
    } else {
        channel.queue_declare(config.queue.as_str().into(), queue_durable, args).await?;
        (channel, QueueKind::Classic)
    };
    channel
        .queue_bind(
            config.queue.as_str().into(),
            config.exchange.as_str().into(),
            "#".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    Ok((channel, kind))
}

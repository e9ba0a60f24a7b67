import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** Prometheus metrics of the realtime gateway. */
export class RealtimeMetrics {
  readonly connections: Gauge;
  readonly subscriptions: Gauge;
  readonly messagesIn: Counter<'type'>;
  readonly messagesOut: Counter<'kind'>;
  readonly bytesIn: Counter;
  readonly bytesOut: Counter;
  readonly refusals: Counter<'reason'>;
  readonly closes: Counter<'reason'>;
  readonly dropped: Counter;
  readonly flushLatency: Histogram;
  readonly queueDepth: Histogram;

  #sources: { connections(): number; subscriptions(): number } = { connections: () => 0, subscriptions: () => 0 };

  constructor(registry: Registry) {
    const registers = [registry];
    // Read at scrape time from the gateway and the hub, so no connection keeps counters of its own.
    const sources = () => this.#sources;
    this.connections = new Gauge({ name: 'tandem_ws_connections', help: 'Open realtime connections', registers, collect() { this.set(sources().connections()); } });
    this.subscriptions = new Gauge({ name: 'tandem_ws_subscriptions', help: 'Active channel subscriptions', registers, collect() { this.set(sources().subscriptions()); } });
    this.messagesIn = new Counter({ name: 'tandem_ws_messages_in_total', help: 'Inbound frames by type', labelNames: ['type'], registers });
    this.messagesOut = new Counter({ name: 'tandem_ws_messages_out_total', help: 'Outbound frames by kind', labelNames: ['kind'], registers });
    this.bytesIn = new Counter({ name: 'tandem_ws_bytes_in_total', help: 'Inbound payload bytes', registers });
    this.bytesOut = new Counter({ name: 'tandem_ws_bytes_out_total', help: 'Outbound payload bytes', registers });
    this.refusals = new Counter({ name: 'tandem_ws_refusals_total', help: 'Handshakes refused before the upgrade, by reason', labelNames: ['reason'], registers });
    this.closes = new Counter({ name: 'tandem_ws_closes_total', help: 'Connections closed, by reason', labelNames: ['reason'], registers });
    this.dropped = new Counter({ name: 'tandem_ws_ephemeral_dropped_total', help: 'Ephemeral frames dropped for slow consumers', registers });
    this.flushLatency = new Histogram({
      name: 'tandem_ws_publish_to_write_seconds',
      help: 'Per coalesced write run: time from the first frame queued in the turn to the end of the socket writes',
      buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1],
      registers,
    });
    this.queueDepth = new Histogram({ name: 'tandem_ws_queue_depth_frames', help: 'Per coalesced write run: the most frames any one connection got in a single write', buckets: [1, 2, 5, 10, 50, 100, 500], registers });
  }

  /** Where the connection and subscription gauges read their values. */
  observe(sources: { connections(): number; subscriptions(): number }): void {
    this.#sources = sources;
  }
}

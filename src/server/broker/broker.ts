import type { RecoveryFailure } from '../../protocol/frames';

/**
 * One message on a channel. Durable messages carry the offset the database assigned
 * (ChannelEvent.offset); ephemeral ones (typing) have none and are never stored.
 */
export interface BrokerMessage {
  channel: string;
  event: string;
  data: unknown;
  /** Absent = ephemeral. */
  offset?: number;
  /**
   * The id of the connection that published it (client ephemeral publishes), so fanout can
   * skip the sender on every node. Absent for server-side publications.
   */
  from?: string;
}

/** A channel's stream position: `epoch` changes whenever the history behind it was lost. */
export interface BrokerPosition {
  epoch: string;
  offset: number;
}

export type HistoryResult =
  | { ok: true; publications: BrokerMessage[]; epoch: string; offset: number }
  | { ok: false; why: RecoveryFailure; epoch: string; offset: number };

/**
 * Fanout across nodes plus each channel's bounded history. Every method returns a Promise
 * and the hub awaits it, so an implementation backed by the network (Redis) keeps ordering.
 * Implementations: MemoryBroker (one process). Contract: test/hub/broker-contract.ts.
 */
export interface Broker {
  /**
   * Appends to the channel's bounded history and fans out to every node's listener. The offset
   * comes from the caller (DB-assigned) for durable events; ephemeral ones have none and are
   * not stored. A durable offset at or below the newest one known is a duplicate: ignored.
   */
  publish(message: BrokerMessage): Promise<void>;
  /** Publishes several (one commit's) in order, together where the broker can; all are tried, the first failure is thrown. */
  publishAll(messages: readonly BrokerMessage[]): Promise<void>;
  /** Called for every message published on any channel (by any node). Returns the remover. */
  onMessage(listener: (message: BrokerMessage) => void): () => void;
  /**
   * History after `since.offset` (exclusive), in order, plus the channel's epoch and the newest
   * offset the broker knows, or which RecoveryFailure applies.
   */
  history(channel: string, since: BrokerPosition, limit: number): Promise<HistoryResult>;
  /** Epoch and newest offset of a channel (offset 0 when nothing was published since the epoch began). */
  position(channel: string): Promise<BrokerPosition>;
  /**
   * This node wants `channel`'s messages (a node-wide subscription, not one per client); resolves
   * once every message published afterwards is certain to reach onMessage. Idempotent; the hub
   * calls it for each subscribe before reading the channel's history or position.
   */
  watch(channel: string): Promise<void>;
  /** This node's last subscriber of `channel` left: stop receiving it. */
  unwatch(channel: string): void;
  /**
   * Fanout may have missed messages of `channel`, or of every channel (`undefined`: the connection
   * to the other nodes was lost and came back). Subscribers there must recover from history.
   * Returns the remover. The memory broker never reports one.
   */
  onGap(listener: (channel: string | undefined) => void): () => void;
  close(): Promise<void>;
}

/** Waits for every one, then throws the first failure (publishAll's rule: one failure does not stop the others). */
export async function settleAll(runs: readonly Promise<unknown>[]): Promise<void> {
  const results = await Promise.allSettled(runs);
  const failure = results.find((result) => result.status === 'rejected');
  if (failure !== undefined) throw failure.reason;
}

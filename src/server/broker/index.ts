/** Brokers: fanout across nodes plus bounded per-channel history. The hub depends only on `Broker`. */
export type { Broker, BrokerMessage, BrokerPosition, HistoryResult } from './broker';
export { MemoryBroker, type MemoryBrokerOptions } from './memory-broker';
export { RedisBroker, type RedisBrokerLogLevel, type RedisBrokerOptions, type RedisBrokerState, type RedisBrokerStateChange } from './redis-broker';

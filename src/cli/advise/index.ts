/** `tandem advise`: which of REST, polling, SSE and WebSocket each feature should use, and why. */
export { runAdvise, type AdviseIo } from './main';
export { advise, THRESHOLDS, type Advice, type RuleId, type Thresholds } from './rules';
export { alternatives, type AlternativeCost, type Strategy } from './costs';
export { asBenchReport, costModelFromReport, MODELLED, type CostModel } from './cost-model';
export type { Cacheability, Feature, Initiator } from './feature';

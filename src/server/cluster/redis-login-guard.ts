import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { LoginAttempt, LoginGuardOptions, LoginLimiter, LoginRefusal } from '../auth/login-guard';

/**
 * LoginGuard's limits held in Redis, so they hold across a cluster: an attacker who spreads guesses
 * over the nodes gets no more of them. The same rules (see LoginGuard), in Lua, by Redis' clock:
 *
 * - `login:ip:<ip>`: hash {tokens, at}, the address's token bucket;
 * - `login:pair:<account>\0<ip>`: hash {failures, locked, last}, with `login:pend:<…>`, a sorted set of
 *   the checks under way (by start time; one left behind by a node that died is dropped after
 *   STALE_MS instead of blocking the pair).
 *
 * Keys expire a window after their last use. When Redis does not answer, the node's own memory
 * guard decides (the limits then hold per node), so logins never depend on Redis being up.
 */
const STALE_MS = 30_000;

const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

// KEYS: ip. ARGV: capacity, refill per ms, ttl ms. Returns {allowed, retryAfterSeconds}.
const ATTEMPT = `${NOW}
local capacity = tonumber(ARGV[1])
local refill = tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + (now - at) * refill)
local allowed = 0
local retry = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  retry = math.ceil((1 - tokens) / refill / 1000)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', now)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {allowed, retry}`;

// KEYS: pair, pend. ARGV: allowed failures, window ms, attempt id. Returns {started, retryAfterSeconds}.
const BEGIN = `${NOW}
local allowed = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - ${STALE_MS})
local pending = redis.call('ZCARD', KEYS[2])
local state = redis.call('HMGET', KEYS[1], 'failures', 'locked', 'last')
local failures = tonumber(state[1]) or 0
local locked = tonumber(state[2]) or 0
local last = tonumber(state[3]) or now
if pending == 0 and locked <= now and now - math.max(last, locked) >= window then
  redis.call('DEL', KEYS[1])
  failures = 0
  locked = 0
end
if locked > now then return {0, math.max(1, math.ceil((locked - now) / 1000))} end
if pending >= math.max(1, allowed - failures) then return {0, 1} end
redis.call('ZADD', KEYS[2], now, ARGV[3])
redis.call('PEXPIRE', KEYS[2], window * 2)
return {1, 0}`;

// KEYS: pair, pend. ARGV: outcome, attempt id, allowed failures, window ms.
const END = `${NOW}
local allowed = tonumber(ARGV[3])
local window = tonumber(ARGV[4])
redis.call('ZREM', KEYS[2], ARGV[2])
if ARGV[1] == 'failed' then
  local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
  redis.call('HSET', KEYS[1], 'last', now)
  local over = failures - allowed
  if over >= 0 then
    local first = window / allowed
    redis.call('HSET', KEYS[1], 'locked', now + math.min(window, first * math.pow(2, math.min(over, 30))))
  end
  redis.call('PEXPIRE', KEYS[1], window * 2)
elseif ARGV[1] == 'succeeded' then
  if redis.call('ZCARD', KEYS[2]) == 0 then redis.call('DEL', KEYS[1])
  else redis.call('HSET', KEYS[1], 'failures', 0, 'locked', 0) end
end
return 1`;

interface GuardCommands {
  tandemLoginAttempt(ip: string, capacity: number, refillPerMs: number, ttlMs: number): Promise<[number, number]>;
  tandemLoginBegin(pair: string, pend: string, allowed: number, windowMs: number, id: string): Promise<[number, number]>;
  tandemLoginEnd(pair: string, pend: string, outcome: string, id: string, allowed: number, windowMs: number): Promise<number>;
}

export class RedisLoginGuard implements LoginLimiter {
  readonly #redis: Redis & GuardCommands;
  readonly #prefix: string;
  readonly #options: LoginGuardOptions;
  readonly #fallback: LoginLimiter;
  readonly #onFallback: (error: unknown) => void;

  /** `fallback` decides while Redis does not answer (the node's own LoginGuard). */
  constructor(redis: Redis, options: LoginGuardOptions & { prefix: string; fallback: LoginLimiter; onFallback?: (error: unknown) => void }) {
    redis.defineCommand('tandemLoginAttempt', { numberOfKeys: 1, lua: ATTEMPT });
    redis.defineCommand('tandemLoginBegin', { numberOfKeys: 2, lua: BEGIN });
    redis.defineCommand('tandemLoginEnd', { numberOfKeys: 2, lua: END });
    this.#redis = redis as Redis & GuardCommands;
    this.#prefix = options.prefix;
    this.#options = options;
    this.#fallback = options.fallback;
    this.#onFallback = options.onFallback ?? (() => undefined);
  }

  async attempt(ip: string): Promise<LoginRefusal | undefined> {
    const { attemptsPerIp, windowSeconds } = this.#options;
    try {
      const [allowed, retryAfterSeconds] = await this.#redis.tandemLoginAttempt(`${this.#prefix}login:ip:${ip}`, attemptsPerIp, attemptsPerIp / (windowSeconds * 1000), windowSeconds * 2000);
      return allowed === 1 ? undefined : { retryAfterSeconds: Math.max(1, retryAfterSeconds) };
    } catch (error) {
      this.#onFallback(error);
      return this.#fallback.attempt(ip);
    }
  }

  async begin(account: string, ip: string): Promise<{ refusal: LoginRefusal } | { attempt: LoginAttempt }> {
    const { failuresPerAccount, windowSeconds } = this.#options;
    const windowMs = windowSeconds * 1000;
    const pair = `${this.#prefix}login:pair:${account}\u0000${ip}`;
    const pend = `${this.#prefix}login:pend:${account}\u0000${ip}`;
    const id = randomBytes(8).toString('base64url');
    let started: [number, number];
    try {
      started = await this.#redis.tandemLoginBegin(pair, pend, failuresPerAccount, windowMs, id);
    } catch (error) {
      this.#onFallback(error);
      return this.#fallback.begin(account, ip);
    }
    if (started[0] !== 1) return { refusal: { retryAfterSeconds: started[1] } };
    let ended = false;
    const end = (outcome: 'failed' | 'succeeded' | 'abandoned') => {
      if (ended) return;
      ended = true;
      // A report that does not reach Redis leaves the check to expire as stale (STALE_MS).
      void this.#redis.tandemLoginEnd(pair, pend, outcome, id, failuresPerAccount, windowMs).catch((error: unknown) => this.#onFallback(error));
    };
    return { attempt: { failed: () => end('failed'), succeeded: () => end('succeeded'), abandoned: () => end('abandoned') } };
  }
}

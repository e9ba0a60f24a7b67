import type { Redis } from 'ioredis';
import type { BrokerMessage } from './broker';

/**
 * What RedisBroker keeps in Redis: the key layout, the payload format, and the Lua that changes
 * them. Each script runs atomically in Redis (nothing interleaves with it), so a channel's
 * position, its history and its fanout change together or not at all.
 *
 * Every channel script takes the same four KEYS and the same first eight ARGV (see
 * `commonArguments`), then its own. One channel's state:
 * - meta (hash): epoch, last (newest offset known), floor (recovery from below it is impossible),
 *   published (newest offset fanned out): exactly ChannelHistory's fields;
 * - log (stream): the retained history, entry ID `<offset>-0`, fields `t` (ms) and `p` (payload);
 *   entries are exactly the offsets floor+1 … last, since only last+1 is ever appended;
 * - held (sorted set, score offset, member payload): offsets that came before their predecessor;
 * - pending (one sorted set per prefix): channel → when its current hold began.
 *
 * Lua turns numbers into strings with 14 significant digits, so offsets are formatted with
 * `int()` and times are passed through as the strings JavaScript sent. Scripts return strings
 * and arrays only: a Lua boolean would reach a RESP3 client as a boolean, a RESP2 one as nil.
 */

/** The payload of a gap notice on a channel's pub/sub channel; messages are JSON objects. */
export const GAP_NOTICE = 'gap';

/**
 * A message as published and stored, made once per publication: short keys, and no channel
 * (the pub/sub channel or the key names it).
 */
export function encode(message: BrokerMessage): string {
  return JSON.stringify({ e: message.event, d: message.data, o: message.offset, f: message.from });
}

export function decode(channel: string, payload: string): BrokerMessage {
  const wire = JSON.parse(payload) as { e: string; d?: unknown; o?: number; f?: string };
  const message: BrokerMessage = { channel, event: wire.e, data: wire.d };
  if (wire.o !== undefined) message.offset = wire.o;
  if (wire.f !== undefined) message.from = wire.f;
  return message;
}

const PRELUDE = `
local meta, log, held, pending = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local channel, live, nowText = ARGV[1], ARGV[2], ARGV[3]
local now, maxCount, maxAge = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local logTtl, metaTtl, newEpoch = ARGV[6], ARGV[7], ARGV[8]

local function int(n) return string.format('%d', n) end
local function offsetOf(id) return tonumber(string.match(id, '^%d+')) end

-- The channel's position, or nil: never used, idle past its TTL, or lost with Redis' memory.
local function load()
  local v = redis.call('HMGET', meta, 'epoch', 'last', 'floor', 'published')
  if not v[1] then return nil end
  return { epoch = v[1], last = tonumber(v[2]), floor = tonumber(v[3]), published = tonumber(v[4]) }
end

-- A new epoch positioned at 'at'. Whatever history or holds were left belong to no epoch now.
local function begin(at)
  redis.call('DEL', log, held)
  redis.call('ZREM', pending, channel)
  return { epoch = newEpoch, last = at, floor = at, published = 0 }
end

local function save(s)
  redis.call('HSET', meta, 'epoch', s.epoch, 'last', int(s.last), 'floor', int(s.floor), 'published', int(s.published))
  redis.call('PEXPIRE', meta, metaTtl)
end

-- History and holds expire when the channel goes idle; the meta (the epoch) outlives them.
local function keep()
  redis.call('PEXPIRE', log, logTtl)
  redis.call('PEXPIRE', held, logTtl)
end

local function append(s, offset, payload)
  redis.call('XADD', log, int(offset) .. '-0', 't', nowText, 'p', payload)
  s.last = offset
  s.published = offset
  redis.call('PUBLISH', live, payload)
end

-- Appends the held offsets that now follow 'last', in order; the channel stays in 'pending'
-- while a hold remains, timed from now (its predecessor just arrived).
local function drain(s)
  local drained = 0
  while true do
    local head = redis.call('ZRANGE', held, 0, 0, 'WITHSCORES')
    if #head == 0 then break end
    local offset = tonumber(head[2])
    if offset > s.last + 1 then break end
    redis.call('ZREMRANGEBYRANK', held, 0, 0)
    if offset == s.last + 1 then
      append(s, offset, head[1])
      drained = drained + 1
    elseif offset > s.published then
      s.published = offset
      redis.call('PUBLISH', live, head[1])
    end
  end
  if redis.call('EXISTS', held) == 0 then
    redis.call('ZREM', pending, channel)
  elseif drained > 0 then
    redis.call('ZADD', pending, nowText, channel)
  end
end

-- trimHistory: drops entries past the count bound, then entries older than the age bound,
-- oldest first; the floor becomes the newest dropped offset. A log that expired while idle
-- held only entries past the age bound: all of them count as trimmed.
local function trim(s)
  local length = redis.call('XLEN', log)
  if length == 0 then
    s.floor = s.last
    return
  end
  local dropped = nil
  if length > maxCount then
    local old = redis.call('XRANGE', log, '-', '+', 'COUNT', length - maxCount)
    dropped = offsetOf(old[#old][1])
  end
  -- Usually the oldest entry is young (or one is due): read one, then more while all are old.
  local cursor = dropped and ('(' .. int(dropped) .. '-0') or '-'
  local size = 1
  while true do
    local batch = redis.call('XRANGE', log, cursor, '+', 'COUNT', size)
    for i = 1, #batch do
      if now - tonumber(batch[i][2][2]) <= maxAge then
        batch = nil
        break
      end
      dropped = offsetOf(batch[i][1])
    end
    if batch == nil or #batch < size then break end
    cursor = '(' .. batch[#batch][1]
    size = math.min(size * 2, 128)
  end
  if dropped then
    redis.call('XTRIM', log, 'MINID', int(dropped + 1))
    if dropped > s.floor then s.floor = dropped end
  end
end
`;

// ARGV[9] offset, ARGV[10] payload. Returns duplicate | announced | appended | held.
const PUBLISH = `${PRELUDE}
local offset, payload = tonumber(ARGV[9]), ARGV[10]
local s = load() or begin(offset - 1)
if offset <= s.published or redis.call('ZCOUNT', held, int(offset), int(offset)) > 0 then return 'duplicate' end
local outcome
if offset <= s.last then
  -- The seed from the database counts it already: fanned out (it is news to live
  -- subscribers) but not stored, as nobody can be positioned before it.
  s.published = offset
  redis.call('PUBLISH', live, payload)
  outcome = 'announced'
elseif offset == s.last + 1 then
  append(s, offset, payload)
  drain(s)
  trim(s)
  outcome = 'appended'
else
  redis.call('ZADD', held, int(offset), payload)
  redis.call('ZADD', pending, 'NX', nowText, channel)
  outcome = 'held'
end
save(s)
keep()
return outcome`;

// ARGV[9] cutoff: gives up only on a hold that began at or before it. Raises the floor to just
// below the first held offset, announces the gap, then drains. Returns none | waiting | filled | gave_up.
const GIVE_UP = `${PRELUDE}
local s = load()
local since = redis.call('ZSCORE', pending, channel)
if not s or not since then
  if not s then redis.call('DEL', held) end
  redis.call('ZREM', pending, channel)
  return 'none'
end
if tonumber(since) > tonumber(ARGV[9]) then return 'waiting' end
local head = redis.call('ZRANGE', held, 0, 0, 'WITHSCORES')
if #head == 0 then
  redis.call('ZREM', pending, channel)
  return 'none'
end
local first = tonumber(head[2])
local outcome = 'filled'
if first > s.last + 1 then
  -- Every retained entry is below the new floor: none can be replayed across the gap.
  redis.call('DEL', log)
  s.last = first - 1
  s.floor = first - 1
  -- Before the drained offsets, so every node learns of the gap before what follows it.
  redis.call('PUBLISH', live, '${GAP_NOTICE}')
  outcome = 'gave_up'
end
drain(s)
trim(s)
save(s)
keep()
return outcome`;

// The range a hold waits for: { last, first held offset }, or {} when nothing is held.
const GAP_OF = `${PRELUDE}
local last = redis.call('HGET', meta, 'last')
local head = redis.call('ZRANGE', held, 0, 0, 'WITHSCORES')
if not last or #head == 0 then return {} end
return { last, head[2] }`;

// ARGV[9] seed ('' = none). Returns { 'ok', epoch, last } or { 'missing' } (then seed and call again).
const POSITION = `${PRELUDE}
local s = load()
if not s then
  if ARGV[9] == '' then return { 'missing' } end
  s = begin(tonumber(ARGV[9]))
  save(s)
else
  redis.call('PEXPIRE', meta, metaTtl)
end
return { 'ok', s.epoch, int(s.last) }`;

// ARGV[9] seed, ARGV[10] since epoch, ARGV[11] since offset, ARGV[12] limit. Returns
// { 'missing' } or { why | 'ok', epoch, last, payloads... }: readSince, atomically with the meta.
const HISTORY = `${PRELUDE}
local s = load()
if not s then
  if ARGV[9] == '' then return { 'missing' } end
  s = begin(tonumber(ARGV[9]))
end
trim(s)
save(s)
local epoch, last = s.epoch, int(s.last)
if ARGV[10] ~= s.epoch then return { 'epoch_changed', epoch, last } end
local since, limit = tonumber(ARGV[11]), tonumber(ARGV[12])
if since > s.last then return { 'never_positioned', epoch, last } end
if since < s.floor then return { 'history_trimmed', epoch, last } end
local entries = redis.call('XRANGE', log, '(' .. int(since) .. '-0', '+', 'COUNT', limit + 1)
if #entries > limit then return { 'too_many_missed', epoch, last } end
local reply = { 'ok', epoch, last }
for i = 1, #entries do reply[#reply + 1] = entries[i][2][4] end
return reply`;

const UNLOCK = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/** One channel's keys (KEYS of every channel script) and its pub/sub channel. */
export interface ChannelKeys {
  readonly meta: string;
  readonly log: string;
  readonly held: string;
  readonly pending: string;
  /** The pub/sub channel its publications and gap notices travel on. */
  readonly live: string;
  /** The short lock of the node filling its gap. */
  readonly fill: string;
}

/**
 * The key layout. The kind comes before the channel, so a channel name with ':' in it cannot
 * collide with another kind's key.
 */
export function channelKeys(prefix: string, channel: string): ChannelKeys {
  return {
    meta: `${prefix}meta:${channel}`,
    log: `${prefix}log:${channel}`,
    held: `${prefix}held:${channel}`,
    pending: pendingKey(prefix),
    live: `${prefix}live:${channel}`,
    fill: `${prefix}fill:${channel}`,
  };
}

/** The prefix-wide sorted set of channels with a hold, scored by when the hold began. */
export function pendingKey(prefix: string): string {
  return `${prefix}pending`;
}

/** What every channel script needs besides its own arguments. */
export interface ScriptContext {
  readonly channel: string;
  readonly keys: ChannelKeys;
  readonly now: number;
  readonly maxCount: number;
  readonly maxAgeMs: number;
  readonly logTtlMs: number;
  readonly metaTtlMs: number;
  /** Used only when the script starts a new epoch. */
  readonly newEpoch: string;
}

type Reply = string | string[];

/** The scripts, bound to one connection; ioredis runs each by EVALSHA (EVAL after a NOSCRIPT). */
export interface BrokerScripts {
  publish(context: ScriptContext, offset: number, payload: string): Promise<string>;
  /**
   * Several publications in one pipeline: one write to Redis, so they are sequenced back to back
   * and reach the other nodes together. Each answer is its outcome, or the Error it failed with.
   */
  publishMany(items: ReadonlyArray<{ context: ScriptContext; offset: number; payload: string }>): Promise<Array<string | Error>>;
  giveUp(context: ScriptContext, cutoff: number): Promise<string>;
  gapOf(context: ScriptContext): Promise<string[]>;
  position(context: ScriptContext, seed: number | undefined): Promise<string[]>;
  history(context: ScriptContext, seed: number | undefined, sinceEpoch: string, since: number, limit: number): Promise<string[]>;
  unlock(key: string, token: string): Promise<unknown>;
}

const CHANNEL_SCRIPTS = {
  tandemBrokerPublish: PUBLISH,
  tandemBrokerGiveUp: GIVE_UP,
  tandemBrokerGapOf: GAP_OF,
  tandemBrokerPosition: POSITION,
  tandemBrokerHistory: HISTORY,
} as const;

type Command = (...args: string[]) => Promise<Reply>;

/** Defines the scripts on `redis` (a command connection) and returns them typed. */
export function defineBrokerScripts(redis: Redis): BrokerScripts {
  for (const [name, lua] of Object.entries(CHANNEL_SCRIPTS)) redis.defineCommand(name, { numberOfKeys: 4, lua });
  redis.defineCommand('tandemBrokerUnlock', { numberOfKeys: 1, lua: UNLOCK });
  const commands = redis as unknown as Record<keyof typeof CHANNEL_SCRIPTS | 'tandemBrokerUnlock', Command>;
  const run = (name: keyof typeof CHANNEL_SCRIPTS, context: ScriptContext, ...rest: string[]) =>
    commands[name](...commonArguments(context), ...rest);
  const seedText = (seed: number | undefined) => (seed === undefined ? '' : String(seed));
  return {
    publish: async (context, offset, payload) => String(await run('tandemBrokerPublish', context, String(offset), payload)),
    publishMany: async (items) => {
      const pipeline = redis.pipeline() as unknown as Record<'tandemBrokerPublish', (...args: string[]) => unknown> & { exec(): Promise<Array<[Error | null, unknown]> | null> };
      for (const { context, offset, payload } of items) pipeline.tandemBrokerPublish(...commonArguments(context), String(offset), payload);
      const results = (await pipeline.exec()) ?? [];
      return items.map((_, i) => {
        const [error, value] = results[i] ?? [new Error('no reply'), undefined];
        return error ?? String(value);
      });
    },
    giveUp: async (context, cutoff) => String(await run('tandemBrokerGiveUp', context, String(cutoff))),
    gapOf: async (context) => (await run('tandemBrokerGapOf', context)) as string[],
    position: async (context, seed) => (await run('tandemBrokerPosition', context, seedText(seed))) as string[],
    history: async (context, seed, sinceEpoch, since, limit) =>
      (await run('tandemBrokerHistory', context, seedText(seed), sinceEpoch, String(since), String(limit))) as string[],
    unlock: (key, token) => commands.tandemBrokerUnlock(key, token),
  };
}

/** KEYS (4) then ARGV[1..8], in the order PRELUDE reads them. */
function commonArguments(context: ScriptContext): string[] {
  const { keys } = context;
  return [
    keys.meta, keys.log, keys.held, keys.pending,
    context.channel, keys.live, String(context.now), String(context.maxCount), String(context.maxAgeMs),
    String(context.logTtlMs), String(context.metaTtlMs), context.newEpoch,
  ];
}

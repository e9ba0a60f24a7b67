import type { HubUser } from './subscription';

/** What a client may publish on a channel: ephemeral events only (typing and the like). */
export interface ClientEventSpec {
  /** True when `data` is acceptable; false (or a throw) answers `invalid_payload`. */
  validate: (data: unknown) => boolean;
  /**
   * The data fanned out, from the validated data and the sender. Default: the data as sent.
   * Use it to stamp who sent it, which clients then cannot spoof: `(d, u) => ({ ...d, by: u.id })`.
   */
  broadcast?: (data: unknown, user: HubUser) => unknown;
}

/** Registered by the app per channel prefix ("post", "user", "feed"...). */
export interface ChannelPolicy {
  /** `param` is what follows the prefix: '42' for 'post:42', undefined for 'feed'. */
  canSubscribe(user: HubUser, channel: string, param: string | undefined): boolean | Promise<boolean>;
  /** Events clients may publish, by name; absent = clients may not publish on this channel. */
  clientEvents?: Record<string, ClientEventSpec>;
  /** 'users': join/leave frames and a user list; 'counts': only a count (large channels). Default false. */
  presence?: 'users' | 'counts' | false;
}

export interface ResolvedChannel {
  policy: ChannelPolicy;
  param: string | undefined;
}

/** Policies by prefix: 'post' matches 'post:42' (param '42'); 'feed' matches 'feed'. */
export class PolicyRegistry {
  readonly #byPrefix = new Map<string, ChannelPolicy>();

  define(prefix: string, policy: ChannelPolicy): void {
    if (prefix.length === 0 || prefix.includes(':')) throw new TypeError(`A channel prefix is a name without ':' (got ${JSON.stringify(prefix)})`);
    if (this.#byPrefix.has(prefix)) throw new Error(`A policy for '${prefix}' is already defined`);
    this.#byPrefix.set(prefix, policy);
  }

  resolve(channel: string): ResolvedChannel | undefined {
    const colon = channel.indexOf(':');
    const prefix = colon === -1 ? channel : channel.slice(0, colon);
    const policy = this.#byPrefix.get(prefix);
    if (policy === undefined) return undefined;
    return { policy, param: colon === -1 ? undefined : channel.slice(colon + 1) };
  }
}

/** The spec for a client event, or undefined when clients may not publish it. */
export function clientEventSpec(policy: ChannelPolicy, event: string): ClientEventSpec | undefined {
  const events = policy.clientEvents;
  return events !== undefined && Object.hasOwn(events, event) ? events[event] : undefined;
}

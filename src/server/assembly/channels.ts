import type { TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import type { ChannelPolicy, ClientEventSpec, HubUser } from '../hub';
import { buildAsyncApi, type AsyncApiChannel } from '../realtime/asyncapi';

/** An event the server publishes on a channel: what it means and its data (usually the REST representation). */
export interface EventDefinition {
  description: string;
  data: TSchema;
}

/** An event clients may publish on a channel: ephemeral (never stored, no offset), validated, rate-limited. */
export interface ClientEventDefinition {
  description: string;
  /** What a client sends as `d`; anything else is refused with `invalid_payload`. */
  accepts: TSchema;
  /** What subscribers receive, when `broadcast` reshapes it (documented in the AsyncAPI document). Default: `accepts`. */
  delivers?: TSchema;
  /** The data fanned out, from the validated data and the sender; stamp who sent it here, since clients cannot be trusted to. */
  broadcast?: (data: unknown, user: HubUser) => unknown;
}

/** What every kind of channel declares. */
interface ChannelBase {
  description: string;
  /** 'users': join/leave frames and a user list, per user (three tabs = one user); 'counts': a count only. Default: none. */
  presence?: 'users' | 'counts';
  /** What the server publishes here (docs). */
  events?: Record<string, EventDefinition>;
  /** What clients may publish here (typing and the like). */
  clientEvents?: Record<string, ClientEventDefinition>;
}

/** A kind of channel with a parameter: `post` with `param: 'id'` declares `post:{id}`. */
export interface ParamChannelDefinition<C> extends ChannelBase {
  /** The name of what follows the prefix (`post:{id}` → 'id'). */
  param: string;
  /**
   * Whether this user may subscribe; `param` is what follows the prefix. Default: any signed-in user.
   * A refusal answers `forbidden`, also for a resource that does not exist, so that private ids leak nothing.
   */
  canSubscribe?(subscription: { user: HubUser; channel: string; param: string }, ctx: C): boolean | Promise<boolean>;
}

/** A single channel, named by its prefix alone (`feed`). */
export interface SingleChannelDefinition<C> extends ChannelBase {
  param?: undefined;
  /** Whether this user may subscribe. Default: any signed-in user. */
  canSubscribe?(subscription: { user: HubUser; channel: string }, ctx: C): boolean | Promise<boolean>;
}

/**
 * One kind of channel, declared by the app under its prefix. The library enforces the shape (a
 * channel with a `param` needs one, a channel without refuses one), then asks `canSubscribe`.
 */
export type ChannelDefinition<C> = ParamChannelDefinition<C> | SingleChannelDefinition<C>;

export type ChannelDefinitions<C> = Record<string, ChannelDefinition<C>>;

const PREFIX = /^[a-z]+$/;

/** The hub policies of an app's channel declarations. */
export function channelPolicies<C>(definitions: ChannelDefinitions<C>, ctx: C): Array<[prefix: string, policy: ChannelPolicy]> {
  return Object.entries(definitions).map(([prefix, definition]) => {
    if (!PREFIX.test(prefix)) throw new TypeError(`Channel prefix '${prefix}' must be lower-case letters (channel names are ${'`prefix`'} or ${'`prefix:param`'})`);
    const policy: ChannelPolicy = {
      canSubscribe: (user, channel, param) => {
        if (definition.param === undefined) return param === undefined && (definition.canSubscribe?.({ user, channel }, ctx) ?? true);
        return param !== undefined && (definition.canSubscribe?.({ user, channel, param }, ctx) ?? true);
      },
      presence: definition.presence ?? false,
    };
    if (definition.clientEvents !== undefined) policy.clientEvents = clientEventSpecs(definition.clientEvents);
    return [prefix, policy];
  });
}

function clientEventSpecs(events: Record<string, ClientEventDefinition>): Record<string, ClientEventSpec> {
  const specs: Record<string, ClientEventSpec> = {};
  for (const [name, event] of Object.entries(events)) {
    const validator = Compile(event.accepts);
    specs[name] = { validate: (data) => validator.Check(data), ...(event.broadcast === undefined ? {} : { broadcast: event.broadcast }) };
  }
  return specs;
}

/** The AsyncAPI channels of an app's declarations (addresses like `post:{id}`). */
function asyncApiChannels<C>(definitions: ChannelDefinitions<C>): AsyncApiChannel[] {
  return Object.entries(definitions).map(([prefix, definition]) => {
    const events: AsyncApiChannel['events'] = {};
    for (const [name, event] of Object.entries(definition.events ?? {})) events[name] = { description: event.description, data: event.data };
    for (const [name, event] of Object.entries(definition.clientEvents ?? {})) {
      events[name] = { description: `${event.description} (clients publish it with a pub frame; ephemeral, never stored, no offset)`, data: event.delivers ?? event.accepts };
    }
    const presence = definition.presence === undefined ? '' : ` Presence: ${definition.presence === 'users' ? 'join/leave frames, per user' : 'a count'}.`;
    return { address: definition.param === undefined ? prefix : `${prefix}:{${definition.param}}`, description: definition.description + presence, events };
  });
}

/** The AsyncAPI 3 document of an app: the tandem.v1 protocol and the app's channels (served at /api/asyncapi.json). */
export function asyncApiDocument<C>(api: { title: string; version: string; description: string }, definitions: ChannelDefinitions<C>): object {
  return buildAsyncApi({ ...api, description: `${api.description} The tandem.v1 realtime protocol: docs/protocol.md.` }, asyncApiChannels(definitions));
}

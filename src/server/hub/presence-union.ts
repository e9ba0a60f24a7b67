import type { PresenceUser } from '../../protocol/frames';

/** A node's user joined or left a channel (after that node's own grace period), or a node died. */
export type PresenceChange =
  | { kind: 'join' | 'leave'; channel: string; node: string; user: PresenceUser }
  | { kind: 'node_gone'; node: string };

/**
 * Presence across nodes (implemented over Redis by the cluster module). Each node keeps its own
 * users with their grace periods (PresenceTracker) and tells the others only when a user joins or
 * leaves on it; what a client sees is the union over the nodes that are alive.
 */
export interface PresenceExchange {
  readonly nodeId: string;
  /** This node's user joined or left `channel`: store it for the others' snapshots and tell them. */
  publish(channel: string, kind: 'join' | 'leave', user: PresenceUser): void;
  /** Every live node's users of `channel` now. */
  snapshot(channel: string): Promise<Array<{ node: string; user: PresenceUser }>>;
  /** Changes made by other nodes (never this node's own), and nodes found dead. Returns the remover. */
  onChange(listener: (change: PresenceChange) => void): () => void;
}

interface Member {
  user: PresenceUser;
  nodes: Set<string>;
}

/** A union transition that local subscribers must hear about. */
export type UnionTransition = { kind: 'join' | 'leave'; channel: string; user: PresenceUser };

/**
 * One node's view of every watched channel's presence across nodes: user → the nodes they are
 * present on. Loading a channel's snapshot races the changes that arrive meanwhile, so those are
 * held and applied after it (adding or removing a node is idempotent, so replaying one the
 * snapshot already contains changes nothing).
 */
export class PresenceUnion {
  readonly #views = new Map<string, Map<number, Member>>();
  readonly #loading = new Map<string, { done: Promise<void>; held: PresenceChange[] }>();

  /** True when `channel`'s view is loaded (or being loaded). */
  has(channel: string): boolean {
    return this.#views.has(channel) || this.#loading.has(channel);
  }

  /** Loads `channel`'s view once (concurrent callers share the load); changes meanwhile are applied after. */
  load(channel: string, snapshot: () => Promise<Array<{ node: string; user: PresenceUser }>>): Promise<void> {
    if (this.#views.has(channel)) return Promise.resolve();
    const pending = this.#loading.get(channel);
    if (pending !== undefined) return pending.done;
    const held: PresenceChange[] = [];
    const done = snapshot().then(
      (entries) => {
        if (this.#loading.get(channel)?.held !== held) return;
        this.#loading.delete(channel);
        const view = new Map<number, Member>();
        for (const { node, user } of entries) add(view, node, user);
        this.#views.set(channel, view);
        for (const change of held) this.apply(change);
      },
      (error: unknown) => {
        if (this.#loading.get(channel)?.held === held) this.#loading.delete(channel);
        throw error;
      },
    );
    this.#loading.set(channel, { done, held });
    return done;
  }

  /** Forgets `channel`'s view (the node's last subscriber of it left). */
  drop(channel: string): void {
    this.#views.delete(channel);
    this.#loading.delete(channel);
  }

  /** Applies a change; returns what local subscribers must be told (users who appeared or vanished). */
  apply(change: PresenceChange): UnionTransition[] {
    if (change.kind === 'node_gone') {
      const gone: UnionTransition[] = [];
      for (const [channel, view] of this.#views) {
        for (const [id, member] of view) {
          if (!member.nodes.delete(change.node) || member.nodes.size > 0) continue;
          view.delete(id);
          gone.push({ kind: 'leave', channel, user: member.user });
        }
      }
      for (const { held } of this.#loading.values()) held.push(change);
      return gone;
    }
    const loading = this.#loading.get(change.channel);
    if (loading !== undefined) {
      loading.held.push(change);
      return [];
    }
    const view = this.#views.get(change.channel);
    if (view === undefined) return [];
    if (change.kind === 'join') return add(view, change.node, change.user) ? [{ kind: 'join', channel: change.channel, user: change.user }] : [];
    const member = view.get(change.user.id);
    if (member === undefined || !member.nodes.delete(change.node) || member.nodes.size > 0) return [];
    view.delete(change.user.id);
    return [{ kind: 'leave', channel: change.channel, user: member.user }];
  }

  users(channel: string): PresenceUser[] {
    const view = this.#views.get(channel);
    return view === undefined ? [] : [...view.values()].map((member) => member.user);
  }

  count(channel: string): number {
    return this.#views.get(channel)?.size ?? 0;
  }

  get channels(): number {
    return this.#views.size + this.#loading.size;
  }

  clear(): void {
    this.#views.clear();
    this.#loading.clear();
  }
}

/** Adds `node` to the user's nodes; true when the user was absent before. */
function add(view: Map<number, Member>, node: string, user: PresenceUser): boolean {
  const member = view.get(user.id);
  if (member !== undefined) {
    member.nodes.add(node);
    return false;
  }
  view.set(user.id, { user, nodes: new Set([node]) });
  return true;
}

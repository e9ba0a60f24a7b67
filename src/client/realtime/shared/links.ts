import type { HubLink } from './hub';
import { isFromHub, isFromTab, type FromHub, type FromTab, type HubMessage, type TabId, type TabMessage } from './protocol';

/**
 * What carries the messages between tabs and hub: a SharedWorker's MessagePorts (one per tab), or
 * one BroadcastChannel that every tab of the origin hears (leader mode; a message names the tabs
 * it is for). Only the parts of the DOM types used here, so tests pass in-memory fakes.
 */

export interface MessagePortLike {
  postMessage(message: unknown): void;
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
  start(): void;
  close(): void;
}

export interface BroadcastChannelLike {
  postMessage(message: unknown): void;
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
  close(): void;
}

export type BroadcastChannelConstructor = new (name: string) => BroadcastChannelLike;

/** A tab's end of the link. */
export interface TabLink {
  send(envelope: FromTab): void;
  listen(listener: (envelope: FromHub) => void): void;
  close(): void;
}

/** A tab's end over its port to the SharedWorker. */
export function portTabLink(port: MessagePortLike): TabLink {
  return {
    send: (envelope) => port.postMessage(envelope),
    listen(listener) {
      port.addEventListener('message', ({ data }) => {
        if (isFromHub(data)) listener(data);
      });
      port.start();
    },
    close: () => port.close(),
  };
}

/** A tab's end over the BroadcastChannel (every hub message reaches every tab; each reads its own). */
export function broadcastTabLink(channel: BroadcastChannelLike): TabLink {
  return {
    send: (envelope) => channel.postMessage(envelope),
    listen(listener) {
      channel.addEventListener('message', ({ data }) => {
        if (isFromHub(data)) listener(data);
      });
    },
    close: () => channel.close(),
  };
}

/** The leader's hub end over the BroadcastChannel: one post per message, whoever it is for. */
export function broadcastHubLink(channel: BroadcastChannelLike, term: number): HubLink {
  return {
    send(to, m) {
      const envelope: FromHub = to === undefined ? { hub: term, m } : { hub: term, to, m };
      channel.postMessage(envelope);
    },
    listen(listener) {
      channel.addEventListener('message', ({ data }) => {
        if (isFromTab(data)) listener(data.tab, data.m);
      });
    },
    forget: () => {},
    close: () => channel.close(),
  };
}

/** The SharedWorker's hub end: a port per tab, learnt from the tab's first message on it. */
export class PortHubLink implements HubLink {
  readonly #term: number;
  readonly #ports = new Map<TabId, MessagePortLike>();
  readonly #unknown = new Set<MessagePortLike>();
  #listener: (tab: TabId, message: TabMessage) => void = () => {};

  constructor(term: number) {
    this.#term = term;
  }

  /** A tab connected to the worker. */
  add(port: MessagePortLike): void {
    this.#unknown.add(port);
    port.addEventListener('message', ({ data }) => {
      if (!isFromTab(data)) return;
      this.#unknown.delete(port);
      this.#ports.set(data.tab, port);
      this.#listener(data.tab, data.m);
    });
    port.start();
  }

  send(to: TabId[] | undefined, m: HubMessage): void {
    const envelope: FromHub = to === undefined ? { hub: this.#term, m } : { hub: this.#term, to, m };
    const ports = to === undefined ? [...this.#ports.values(), ...this.#unknown] : to.flatMap((tab) => this.#ports.get(tab) ?? []);
    for (const port of ports) port.postMessage(envelope);
  }

  listen(listener: (tab: TabId, message: TabMessage) => void): void {
    this.#listener = listener;
  }

  forget(tab: TabId): void {
    this.#ports.delete(tab);
  }

  close(): void {
    for (const port of this.#ports.values()) port.close();
    this.#ports.clear();
  }
}

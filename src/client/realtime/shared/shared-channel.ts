import type { Publication, RecoveryFailure, StreamPosition } from '../../../protocol/frames';
import type { RealtimeEngine } from '../engine';
import type { RealtimeMessage, Subscription } from '../subscription';
import type { HubMessage, TabId } from './protocol';
import { answerFor, earliest, isBefore, remember } from './replay';

/** What a channel needs of its hub: the one connection, and a way to reach tabs. */
export interface ChannelHost {
  engine: RealtimeEngine;
  send(to: TabId[], message: HubMessage): void;
  /** The server refused the channel: the hub forgets it. */
  failed(channel: string): void;
  bufferSize: number;
}

/** Where one tab is in the channel: its last position, and whether it is being sent publications. */
interface TabPlace {
  position: StreamPosition | undefined;
  live: boolean;
}

/**
 * One channel of the hub: ONE subscription on the connection, however many tabs want the channel
 * (reference-counted: the last tab to leave unsubscribes it), and what each tab has been sent.
 * Each tab gets a subscribe answer of its own, from the hub's buffer (answerFor), then the live
 * publications; tabs drop anything at or below their position, so a tab answered twice, or a
 * publication sent by two hubs across a hand-off, is delivered once.
 */
export class SharedChannel {
  readonly channel: string;
  readonly #host: ChannelHost;
  readonly #tabs = new Map<TabId, TabPlace>();
  #real!: Subscription;
  #stopReal: Array<() => void> = [];
  #buffer: Publication[] = [];
  #floor: StreamPosition | undefined;
  #gap: RecoveryFailure | 'unknown' | undefined;
  #answering = false;

  constructor(host: ChannelHost, channel: string, since: StreamPosition | undefined) {
    this.#host = host;
    this.channel = channel;
    this.#subscribe(since);
  }

  get tabs(): number {
    return this.#tabs.size;
  }

  has(tab: TabId): boolean {
    return this.#tabs.has(tab);
  }

  /** A tab wants the channel from `since` (again, after a hand-off or a resume: its answer is sent afresh). */
  add(tab: TabId, since: StreamPosition | undefined): void {
    this.#tabs.set(tab, { position: since, live: false });
    // Not asked of the server yet: ask from the earliest position any tab needs, at no cost.
    if (this.#real.state === 'pending' && isBefore(since, this.#real.position)) return this.#resubscribe(since);
    if (this.#real.state === 'live') this.#answer();
  }

  /** A tab lets go; true when none is left (the subscription is then gone). */
  remove(tab: TabId): boolean {
    this.#tabs.delete(tab);
    if (this.#tabs.size > 0) return false;
    this.close();
    return true;
  }

  close(): void {
    for (const stop of this.#stopReal.splice(0)) stop();
    this.#real.unsubscribe();
  }

  #subscribe(since: StreamPosition | undefined): void {
    const real = this.#host.engine.subscribe(this.channel, (m) => this.#deliver(m), since === undefined ? {} : { since });
    this.#real = real;
    this.#floor = since;
    this.#gap = undefined;
    this.#buffer = [];
    this.#stopReal = [
      real.on('state', ({ state }) => {
        if (state === 'pending') this.#lose();
        if (state !== 'live') return;
        // Subscribed "from now": the stream is complete from the answer's position on, and a tab
        // that asked "from now" meanwhile starts there too (not at a publication that follows).
        this.#floor ??= real.position;
        for (const place of this.#tabs.values()) if (!place.live) place.position ??= real.position;
        // After the whole answer: its replayed publications, presence and resync come right after this event.
        this.#answering = true;
        queueMicrotask(() => {
          this.#answering = false;
          if (this.#real === real && real.state === 'live') this.#answer();
        });
      }),
      real.on('resync', (position, why) => {
        this.#floor = position;
        this.#gap = why;
        this.#buffer = [];
        this.#lose();
      }),
      real.on('join', (user) => this.#host.send(this.#live(), { t: 'presence', ch: this.channel, kind: 'join', user })),
      real.on('leave', (user) => this.#host.send(this.#live(), { t: 'presence', ch: this.channel, kind: 'leave', user })),
      real.on('error', (error) => {
        this.#host.send([...this.#tabs.keys()], { t: 'failed', ch: this.channel, error: { code: error.code, message: error.message } });
        this.#host.failed(this.channel);
      }),
    ];
  }

  /** Subscribes again from further back, for a tab that needs what only the server still has. */
  #resubscribe(since: StreamPosition | undefined): void {
    for (const stop of this.#stopReal.splice(0)) stop();
    this.#real.unsubscribe();
    this.#lose();
    this.#subscribe(since);
  }

  /** Every tab waits for a new answer (the subscription is set up again). */
  #lose(): void {
    const live = this.#live();
    for (const place of this.#tabs.values()) place.live = false;
    if (live.length > 0) this.#host.send(live, { t: 'lost', ch: this.channel });
  }

  /** Answers every tab that waits for one, or first subscribes from further back when one needs it. */
  #answer(): void {
    const position = this.#real.position;
    if (this.#answering || position === undefined) return;
    const stream = { position, floor: this.#floor, gap: this.#gap, buffer: this.#buffer };
    const waiting = [...this.#tabs].filter(([, place]) => !place.live);
    const answers = waiting.map(([tab, place]) => ({ tab, place, answer: answerFor(place.position, stream, this.#real.presence) }));
    const rewinds = answers.flatMap(({ answer }) => ('rewind' in answer ? [answer.rewind] : []));
    if (rewinds.length > 0) return this.#resubscribe(earliest(rewinds));
    for (const { tab, place, answer } of answers) {
      if ('rewind' in answer) continue;
      place.live = true;
      place.position = answer.position;
      this.#host.send([tab], { t: 'answer', ch: this.channel, result: answer.result });
      for (const pub of answer.then ?? []) this.#host.send([tab], { t: 'pub', ch: this.channel, pub });
    }
  }

  #deliver(message: RealtimeMessage): void {
    const pub: Publication = { t: 'pub', ch: this.channel, ev: message.event, d: message.data };
    const position = this.#real.position;
    if (message.offset !== undefined && position !== undefined) {
      pub.o = message.offset;
      if (this.#floor !== undefined && this.#floor.e === position.e) this.#floor = remember(this.#buffer, this.#floor, pub, this.#host.bufferSize);
      else [this.#floor, this.#buffer] = [undefined, []]; // a stream of another epoch than the buffer's: nothing to answer from
      for (const place of this.#tabs.values()) if (place.live) place.position = { e: position.e, o: message.offset };
    }
    this.#host.send(this.#live(), { t: 'pub', ch: this.channel, pub });
  }

  #live(): TabId[] {
    return [...this.#tabs].filter(([, place]) => place.live).map(([tab]) => tab);
  }
}

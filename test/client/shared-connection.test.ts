import { MessageChannel } from 'node:worker_threads';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RealtimeClient, serveRealtimeWorker, TokenStore, type ConnectionStateChange, type MessagePortLike, type RealtimeMessage, type ShareOptions, type SharedWorkerScopeLike } from '../../src/client/index';
import { CloseCode } from '../../src/protocol/close-codes';
import { accept, FakeSocket, latest } from './fake-socket';
import { FakeBroadcast, FakeLocks, FakeWindow } from './fake-tabs';

/**
 * One realtime connection for all the tabs of a browser (RealtimeClient's `share`), with fake
 * timers, in-memory Web Locks and BroadcastChannel, and a scripted WebSocket playing the server.
 * Each "tab" is a RealtimeClient of its own, as each page of a browser is. No server.
 */

interface Tab {
  name: string;
  client: RealtimeClient;
  tokens: TokenStore;
  window: FakeWindow;
  states: ConnectionStateChange[];
  seen: Map<string, number[]>;
}

class Browser {
  readonly locks = new FakeLocks();
  readonly broadcast = new FakeBroadcast();

  tab(name: string, share: ShareOptions = {}, clock?: () => number): Tab {
    const window = new FakeWindow();
    const tokens = new TokenStore({ refresh: async () => ({ accessToken: `token-${name}`, expiresAt: Date.now() + 3_600_000 }) });
    tokens.set({ accessToken: `token-${name}`, expiresAt: Date.now() + 3_600_000 });
    const client = new RealtimeClient({
      url: 'ws://test/realtime',
      tokens,
      WebSocket: FakeSocket,
      fetch: null,
      storage: null,
      network: null,
      backoff: { baseMs: 100, capMs: 1_000 },
      ...(clock === undefined ? {} : { clock }),
      share: { locks: this.locks.for(name), BroadcastChannel: this.broadcast.for(name), lifecycle: { window }, ...share },
    });
    const states: ConnectionStateChange[] = [];
    client.on('state', (change) => states.push(change));
    return { name, client, tokens, window, states, seen: new Map() };
  }

  /** The tab is gone without a goodbye (a crash). */
  crash(tab: Tab): void {
    this.locks.crash(tab.name);
    this.broadcast.crash(tab.name);
  }
}

function subscribe(tab: Tab, channel: string, since?: { e: string; o: number }) {
  const seen: number[] = [];
  tab.seen.set(channel, seen);
  return tab.client.subscribe(channel, (m: RealtimeMessage) => m.offset !== undefined && seen.push(m.offset), since === undefined ? {} : { since });
}

/** Lets every message between tabs, hub and socket go round (a 0 ms timer set during a tick runs 1 ms later). */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i += 1) await vi.advanceTimersByTimeAsync(1);
}

const pub = (o: number, ch = 'post:1') => ({ t: 'pub', ch, o, ev: 'comment.created', d: { o } });
const subFrames = (socket: FakeSocket) => socket.sent.filter((f) => f.t === 'sub' || f.t === 'unsub');

/** Three tabs subscribed to post:1 from {e1, 5}, the first one leading, all live. */
async function threeLiveTabs(browser: Browser) {
  const tabs = ['a', 'b', 'c'].map((name) => browser.tab(name)) as [Tab, Tab, Tab];
  for (const tab of tabs) {
    subscribe(tab, 'post:1', { e: 'e1', o: 5 });
    tab.client.connect();
    await settle();
  }
  expect(FakeSocket.instances).toHaveLength(1);
  await accept();
  await settle();
  const sub = latest().last('sub')!;
  expect(sub).toMatchObject({ ch: 'post:1', since: { e: 'e1', o: 5 } });
  latest().receive({ t: 'ack', id: sub.id, d: { e: 'e1', o: 5, rec: true, pubs: [], pres: [{ id: 1, n: 'alice' }] } });
  await settle();
  for (const tab of tabs) expect(tab.client.subscription('post:1')!.state).toBe('live');
  return tabs;
}

beforeEach(() => {
  vi.useFakeTimers();
  FakeSocket.instances = [];
});
afterEach(() => vi.useRealTimers());

describe('one connection for the tabs of a browser (leader mode)', () => {
  it('three tabs: one socket, one sub for the channel, every publication in every tab once; the leader says so', async () => {
    const browser = new Browser();
    const [a, b, c] = await threeLiveTabs(browser);
    expect([a.client.sharing, b.client.sharing, c.client.sharing]).toEqual(['leader', 'follower', 'follower']);
    expect(subFrames(latest()).map((f) => f.t)).toEqual(['sub']);
    for (const tab of [a, b, c]) expect(tab.client.state).toBe('open');
    expect(c.states.map((s) => s.state)).toEqual(['connecting', 'open']);

    latest().receive(pub(6), pub(7), pub(6));
    await settle();
    for (const tab of [a, b, c]) expect(tab.seen.get('post:1'), tab.name).toEqual([6, 7]);
    for (const tab of [a, b, c]) expect(tab.client.subscription('post:1')!.position).toEqual({ e: 'e1', o: 7 });
  });

  it('subscriptions are reference-counted: the channel is unsubscribed when the last tab lets go, and a crashed tab counts as gone', async () => {
    const browser = new Browser();
    const [a, b, c] = await threeLiveTabs(browser);
    subscribe(b, 'post:2');
    subscribe(c, 'post:2');
    await settle();
    expect(subFrames(latest()).map((f) => `${f.t} ${f.ch}`)).toEqual(['sub post:1', 'sub post:2']);
    latest().receive({ t: 'ack', id: latest().last('sub')!.id, d: { e: 'e2', o: 0 } });
    await settle();

    b.client.subscription('post:1')!.unsubscribe();
    a.client.subscription('post:1')!.unsubscribe();
    b.client.subscription('post:2')!.unsubscribe();
    await settle();
    expect(subFrames(latest()).map((f) => `${f.t} ${f.ch}`)).toEqual(['sub post:1', 'sub post:2']);

    // c dies without a word: the browser frees its tab lock, and the hub lets go of its channels.
    browser.crash(c);
    await settle();
    expect(subFrames(latest()).map((f) => `${f.t} ${f.ch}`)).toEqual(['sub post:1', 'sub post:2', 'unsub post:1', 'unsub post:2']);
    expect(latest().closedWith).toBeUndefined(); // a and b are still attached
  });

  it('a tab that joins late is answered from the hub’s buffer; one from further back makes the hub subscribe again from there', async () => {
    const browser = new Browser();
    const [a, b] = await threeLiveTabs(browser);
    latest().receive(pub(6), pub(7), pub(8));
    await settle();
    const d = browser.tab('d');
    subscribe(d, 'post:1', { e: 'e1', o: 6 });
    d.client.connect();
    await settle();
    expect(d.seen.get('post:1')).toEqual([7, 8]);
    expect(subFrames(latest())).toHaveLength(1); // answered from memory

    // e read its list before the hub's first position: only the server has 4 and 5.
    const e = browser.tab('e');
    subscribe(e, 'post:1', { e: 'e1', o: 3 });
    e.client.connect();
    await settle();
    expect(subFrames(latest()).map((f) => [f.t, f.since])).toEqual([['sub', { e: 'e1', o: 5 }], ['unsub', undefined], ['sub', { e: 'e1', o: 3 }]]);
    latest().receive({ t: 'ack', id: latest().last('sub')!.id, d: { e: 'e1', o: 8, rec: true, pubs: [4, 5, 6, 7, 8].map((o) => pub(o)), pres: [] } }, pub(9));
    await settle();
    expect(e.seen.get('post:1')).toEqual([4, 5, 6, 7, 8, 9]);
    for (const tab of [a, b, d]) expect(tab.seen.get('post:1'), tab.name).toEqual(tab === d ? [7, 8, 9] : [6, 7, 8, 9]);
  });

  it('hand-off: the leader crashes mid-stream; the next tab leads within the same turn, subscribes from the earliest position, and every tab has every publication once', async () => {
    const browser = new Browser();
    const [a, b, c] = await threeLiveTabs(browser);
    latest().receive(pub(6), pub(7));
    await settle();
    // c was slow: it re-reads from 6 (as a tab that missed the hub's last message would be).
    const old = latest();
    old.receive(pub(8));
    browser.crash(a);
    await settle();
    expect(b.client.sharing).toBe('leader');
    expect(FakeSocket.instances).toHaveLength(2);
    expect(b.states.map((s) => s.state)).toEqual(['connecting', 'open', 'reconnecting', 'connecting']);
    expect(b.states[2]).toMatchObject({ code: CloseCode.abnormal, reason: 'handoff' });
    await accept();
    await settle();
    const sub = latest().last('sub')!;
    const earliest = Math.min(...[b, c].map((tab) => tab.client.subscription('post:1')!.position!.o));
    expect(sub.since).toEqual({ e: 'e1', o: earliest });
    // The server replays from there; publications the tabs already have are not delivered again.
    latest().receive({ t: 'ack', id: sub.id, d: { e: 'e1', o: 10, rec: true, pubs: [7, 8, 9, 10].map((o) => pub(o)) } }, pub(11));
    await settle();
    for (const tab of [b, c]) {
      expect(tab.client.state).toBe('open');
      expect(tab.seen.get('post:1'), tab.name).toEqual([6, 7, 8, 9, 10, 11]);
    }
  });

  it('hand-off to a tab whose clock is behind the old leader’s: its hub still outranks the old one, and the tabs follow it', async () => {
    const browser = new Browser();
    // The tabs' clocks stand still, the new leader's 100 ms behind: a term from the clock alone would lose.
    const a = browser.tab('a', {}, () => 1_000_000);
    const [b, c] = ['b', 'c'].map((name) => browser.tab(name, {}, () => 999_900)) as [Tab, Tab];
    for (const tab of [a, b, c]) {
      subscribe(tab, 'post:1', { e: 'e1', o: 5 });
      tab.client.connect();
      await settle();
    }
    await accept();
    await settle();
    const first = latest().last('sub')!;
    latest().receive({ t: 'ack', id: first.id, d: { e: 'e1', o: 5, rec: true, pubs: [] } }, pub(6));
    await settle();
    browser.crash(a);
    await settle();
    expect(b.client.sharing).toBe('leader');
    await accept();
    await settle();
    const sub = latest().last('sub')!;
    latest().receive({ t: 'ack', id: sub.id, d: { e: 'e1', o: 6, rec: true, pubs: [] } }, pub(7));
    await settle();
    for (const tab of [b, c]) {
      expect(tab.client.state, tab.name).toBe('open');
      expect(tab.seen.get('post:1'), tab.name).toEqual([6, 7]);
    }
  });

  it('hand-off: a leader whose page goes away (pagehide) lets go at once; its socket closes, the next tab’s opens', async () => {
    const browser = new Browser();
    const [a, b, c] = await threeLiveTabs(browser);
    const old = latest();
    a.window.dispatch('pagehide');
    await settle();
    expect(old.closedWith).toBeDefined();
    expect(b.client.sharing).toBe('leader');
    expect(FakeSocket.instances).toHaveLength(2);
    await accept();
    await settle();
    expect(latest().last('sub')).toMatchObject({ ch: 'post:1', since: { e: 'e1', o: 5 } });
    // a is in the back/forward cache: it is not counted, and comes back as a follower.
    a.window.dispatch('pageshow', { persisted: true });
    await settle();
    expect([a.client.sharing, b.client.sharing, c.client.sharing]).toEqual(['follower', 'leader', 'follower']);
  });

  it('a tab that closes changes nothing for the others: the channel stays subscribed, presence and typing go on', async () => {
    const browser = new Browser();
    const [a, b, c] = await threeLiveTabs(browser);
    const joined: string[] = [];
    a.client.subscription('post:1')!.on('join', (u) => joined.push(u.n));
    expect(a.client.subscription('post:1')!.presence.users).toEqual([{ id: 1, n: 'alice' }]);
    c.window.dispatch('pagehide');
    await settle();
    expect(subFrames(latest())).toHaveLength(1);
    latest().receive({ t: 'join', ch: 'post:1', u: { id: 2, n: 'bob' } });
    await settle();
    expect(joined).toEqual(['bob']);
    expect(b.client.subscription('post:1')!.presence.users).toEqual([{ id: 1, n: 'alice' }, { id: 2, n: 'bob' }]);

    const typing = b.client.publish('post:1', 'typing', { on: true });
    await settle();
    const frame = latest().last('pub')!;
    expect(frame).toMatchObject({ ch: 'post:1', ev: 'typing', d: { on: true } });
    latest().receive({ t: 'ack', id: frame.id });
    await settle();
    await expect(typing).resolves.toBeUndefined();
    // A refusal reaches the tab that published, with the server's code.
    const refused = a.client.publish('post:1', 'typing', { on: true }).catch((error: unknown) => error);
    await settle();
    latest().receive({ t: 'err', id: latest().last('pub')!.id, c: 'forbidden', m: 'No' });
    await settle();
    expect(await refused).toMatchObject({ code: 'forbidden' });
  });

  it('signing out in one tab ends the shared connection for every tab', async () => {
    const browser = new Browser();
    const [a, b, c] = await threeLiveTabs(browser);
    c.tokens.clear();
    await settle();
    expect(latest().closedWith).toBeDefined();
    for (const tab of [a, b, c]) expect(tab.states.at(-1), tab.name).toMatchObject({ state: 'closed', code: CloseCode.unauthorized, reason: 'signed_out' });
  });

  it('signing out in a tab that disconnected first (as a logout does) still ends the connection for every tab', async () => {
    const browser = new Browser();
    const [a, b, c] = await threeLiveTabs(browser);
    // c's store held its token before the client was made: the client never heard it change.
    c.client.disconnect();
    await settle();
    expect(latest().closedWith).toBeUndefined();
    c.tokens.clear();
    await settle();
    expect(latest().closedWith).toBeDefined();
    for (const tab of [a, b]) expect(tab.states.at(-1), tab.name).toMatchObject({ state: 'closed', code: CloseCode.unauthorized, reason: 'signed_out' });
  });

  it('the server cannot replay (a new epoch): each tab resyncs where the server said, and gets what followed in the same batch', async () => {
    const browser = new Browser();
    const tabs = await threeLiveTabs(browser);
    const resyncs: string[] = [];
    for (const tab of tabs) tab.client.on('resync', (channel, position, why) => resyncs.push(`${tab.name} ${channel} ${position.e}:${position.o} ${why}`));
    latest().serverClose(1012);
    await settle();
    await vi.advanceTimersByTimeAsync(2_000);
    await accept();
    await settle();
    latest().receive({ t: 'ack', id: latest().last('sub')!.id, d: { e: 'e2', o: 3, rec: false, why: 'epoch_changed' } }, pub(4));
    await settle();
    // As a direct client: resync at the answer's position, then publication 4 (a snapshot read at 3 misses nothing).
    expect(resyncs).toEqual(['a', 'b', 'c'].map((name) => `${name} post:1 e2:3 epoch_changed`));
    for (const tab of tabs) expect(tab.seen.get('post:1'), tab.name).toEqual([4]);
    latest().receive(pub(5));
    await settle();
    for (const tab of tabs) expect(tab.seen.get('post:1'), tab.name).toEqual([4, 5]);
  });

  it('the connection is up while a tab uses it: the last disconnect() closes it, a connect() opens it again', async () => {
    const browser = new Browser();
    const [a, b, c] = await threeLiveTabs(browser);
    for (const tab of [a, b]) tab.client.disconnect();
    await settle();
    expect(latest().closedWith).toBeUndefined();
    expect(a.client.state).toBe('closed');
    c.client.disconnect();
    await settle();
    expect(latest().closedWith).toBeDefined();
    b.client.connect();
    await settle();
    expect(FakeSocket.instances).toHaveLength(2);
    await accept();
    await settle();
    expect(b.client.state).toBe('open');
    expect(latest().last('sub')).toMatchObject({ ch: 'post:1', since: { e: 'e1', o: 5 } });
  });
});

describe('one connection for the tabs of a browser (SharedWorker)', () => {
  it('a SharedWorker that fails to start (its script gone after a deploy): the tabs elect a leader instead', async () => {
    const browser = new Browser();
    const failures: Array<() => void> = [];
    const port: MessagePortLike = { postMessage: () => {}, addEventListener: () => {}, start: () => {}, close: () => {} };
    const broken = () => ({ port, addEventListener: (_type: 'error', listener: () => void) => void failures.push(listener) });
    const [a, b] = ['a', 'b'].map((name) => browser.tab(name, { worker: broken }));
    for (const tab of [a!, b!]) {
      subscribe(tab, 'post:1');
      tab.client.connect();
    }
    await settle();
    expect(FakeSocket.instances).toHaveLength(0);
    expect(a!.client.sharing).toBe('worker');
    for (const fail of failures) fail();
    await settle();
    expect(FakeSocket.instances).toHaveLength(1);
    expect([a!.client.sharing, b!.client.sharing]).toEqual(['leader', 'follower']);
    await accept();
    await settle();
    latest().receive({ t: 'ack', id: latest().last('sub')!.id, d: { e: 'e1', o: 1 } });
    await settle();
    latest().receive(pub(2));
    await settle();
    expect([a!.seen.get('post:1'), b!.seen.get('post:1')]).toEqual([[2], [2]]);
  });

  it('the worker holds the socket, asks a tab for the token, and serves every tab; it closes when the last tab leaves', async () => {
    let connect: ((event: { ports: MessagePortLike[] }) => void) | undefined;
    const scope: SharedWorkerScopeLike = { addEventListener: (_type, listener) => (connect = listener) };
    serveRealtimeWorker(scope, { WebSocket: FakeSocket, fetch: null, network: null, locks: null });
    const worker = () => {
      const channel = new MessageChannel();
      connect!({ ports: [channel.port1 as unknown as MessagePortLike] });
      return { port: channel.port2 as unknown as MessagePortLike };
    };
    const tabs = ['a', 'b'].map((name) => {
      const tokens = new TokenStore({ initial: { accessToken: `token-${name}`, expiresAt: Date.now() + 3_600_000 } });
      const client = new RealtimeClient({ url: 'ws://test/realtime', tokens, WebSocket: FakeSocket, fetch: null, storage: null, network: null, share: { worker, locks: null, lifecycle: null } });
      const seen: number[] = [];
      client.subscribe('post:1', (m) => seen.push(m.offset!));
      return { client, seen };
    });
    for (const { client } of tabs) client.connect();
    // Node's MessagePorts deliver on the real event loop.
    await vi.waitFor(() => expect(FakeSocket.instances).toHaveLength(1), { interval: 5 });
    latest().open();
    await vi.waitFor(() => expect(latest().last('auth')).toBeDefined(), { interval: 5 });
    expect(latest().last('auth')!.tok).toBe('token-a'); // asked of the tab attached when the connection started
    latest().receive({ t: 'ack', id: latest().last('auth')!.id, d: { uid: 1, exp: 2_000_000_000 } });
    await vi.waitFor(() => expect(latest().last('sub')).toBeDefined(), { interval: 5 });
    latest().receive({ t: 'ack', id: latest().last('sub')!.id, d: { e: 'e1', o: 1 } }, pub(2));
    await vi.waitFor(() => expect(tabs.map((t) => t.seen)).toEqual([[2], [2]]), { interval: 5 });
    expect(tabs.map((t) => [t.client.sharing, t.client.state])).toEqual([['worker', 'open'], ['worker', 'open']]);
    expect(subFrames(latest())).toHaveLength(1);

    tabs[0]!.client.disconnect();
    tabs[1]!.client.disconnect();
    await vi.waitFor(() => expect(latest().closedWith).toBeDefined(), { interval: 5 });
  });
});

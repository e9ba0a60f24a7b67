import type { ConnectionStateChange, RealtimeClient } from '../../src/client';
import { h, replace } from './dom';
import { Listeners } from './listeners';

type Shown = 'connecting' | 'connected' | 'reconnecting' | 'offline' | 'disconnected';

const backOnline = new Listeners();

/**
 * Calls `listener` each time the page shows Connected again after it did not (offline, a
 * reconnect): the moment to retry a send that failed. Returns the unsubscribe function.
 */
export function onBackOnline(listener: () => void): () => void {
  return backOnline.add(listener);
}

/**
 * The connection indicator: connected, reconnecting (with the next attempt's countdown and a
 * "Retry now" button), or offline when the browser says it has no network. The countdown text is
 * hidden from screen readers, which hear only the state changes (role=status).
 */
export function connectionIndicator(realtime: RealtimeClient): { el: HTMLElement; dispose(): void } {
  const label = h('span', { class: 'conn-label' });
  const countdown = h('span', { class: 'conn-countdown', 'aria-hidden': 'true' });
  const retry = h('button', { type: 'button', class: 'link-button conn-retry', hidden: true, on: { click: () => reconnectNow(realtime) } }, 'Retry now');
  const el = h('div', { class: 'conn', role: 'status', 'data-testid': 'connection' }, h('span', { class: 'conn-dot', 'aria-hidden': 'true' }), label, countdown, retry);
  let last: ConnectionStateChange | undefined;
  let timer: number | undefined;
  let shownBefore: Shown | undefined;

  const render = () => {
    const shown = stateToShow(last, navigator.onLine);
    el.dataset.state = shown;
    if (shown === 'connected' && shownBefore !== undefined && shownBefore !== 'connected') {
      backOnline.emit();
    }
    shownBefore = shown;
    // The SSE fallback works the same for the person; say so quietly, for whoever debugs a network.
    const text = shown === 'connected' && realtime.transport === 'sse' ? `${TEXT.connected} (SSE)` : TEXT[shown];
    el.dataset.transport = realtime.transport ?? '';
    // How this tab reaches the server: its own connection, the SharedWorker's, or the leader tab's.
    el.dataset.share = realtime.sharing;
    el.title = SHARING[realtime.sharing];
    if (label.textContent !== text) label.textContent = text;
    const next = last?.state === 'reconnecting' ? last.nextAttemptAt : undefined;
    const seconds = next === undefined ? undefined : Math.max(0, Math.ceil((next - Date.now()) / 1000));
    replace(countdown, shown === 'reconnecting' && seconds !== undefined ? ` in ${seconds} s` : '');
    retry.hidden = !(shown === 'reconnecting' && last?.state === 'reconnecting');
    window.clearTimeout(timer);
    if (shown === 'reconnecting' && seconds !== undefined && seconds > 0) timer = window.setTimeout(render, 250);
  };

  const stop = realtime.on('state', (change) => {
    last = change;
    render();
  });
  window.addEventListener('online', render);
  window.addEventListener('offline', render);
  render();
  return {
    el,
    dispose() {
      stop();
      window.clearTimeout(timer);
      window.removeEventListener('online', render);
      window.removeEventListener('offline', render);
    },
  };
}

const SHARING: Record<RealtimeClient['sharing'], string> = {
  none: 'This tab has a connection of its own',
  worker: 'One connection for all your tabs (shared worker)',
  leader: 'One connection for all your tabs, held by this one',
  follower: 'One connection for all your tabs, held by another one',
};

const TEXT: Record<Shown, string> = {
  connecting: 'Connecting…',
  connected: 'Connected',
  reconnecting: 'Reconnecting',
  offline: 'Offline',
  disconnected: 'Disconnected',
};

function stateToShow(change: ConnectionStateChange | undefined, online: boolean): Shown {
  if (!online) return 'offline';
  switch (change?.state) {
    case undefined:
    case 'idle':
      return 'connecting';
    case 'open':
      return 'connected';
    case 'closed':
      return 'disconnected';
    case 'connecting':
      // The first attempt is "connecting"; later ones belong to a reconnect.
      return change.previous === 'reconnecting' ? 'reconnecting' : 'connecting';
    case 'reconnecting':
      return 'reconnecting';
  }
}

/** Skips the rest of the backoff wait. */
function reconnectNow(realtime: RealtimeClient): void {
  realtime.retryNow();
}

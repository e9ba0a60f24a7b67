import type { Message, Notification as SocialNotification } from '../../src/apps/social/schemas';
import { announce, h, replace } from './dom';
import { describeNotification, notificationHref, previewOf, type Inbox } from './inbox';

/** Where the choice is kept, per browser profile: 'on' or 'off' (nothing: never asked). */
const STORAGE_KEY = 'tandem.browser-notifications';

function supported(): boolean {
  return typeof window !== 'undefined' && 'Notification' in window;
}

function chosen(): boolean {
  try {
    return localStorage.getItem(STORAGE_KEY) === 'on';
  } catch {
    return false; // storage refused (a private window's policy): nothing is remembered
  }
}

function remember(on: boolean): void {
  try {
    localStorage.setItem(STORAGE_KEY, on ? 'on' : 'off');
  } catch {
    // Not remembered; the choice still holds for this page.
  }
}

/** On for this browser: the person turned it on here, and the browser still allows it. */
function browserNotificationsOn(): boolean {
  return supported() && chosen() && Notification.permission === 'granted';
}

/** The installed one's remover (one per page). */
let uninstall: (() => void) | undefined;

/** How long a hidden tab waits for a visible tab of the app to say it is there. */
const VISIBLE_TAB_ANSWER_MS = 150;

type TabQuestion = { type: 'anyone-visible'; id: string } | { type: 'visible'; id: string };

/**
 * Whether another tab of the app in this browser is visible (the person sees the notification
 * there): asked over a BroadcastChannel, answered by the visible tabs, unanswered after a moment.
 */
function askVisibleTabs(channel: BroadcastChannel | undefined): Promise<boolean> {
  if (channel === undefined) return Promise.resolve(false);
  const id = Math.random().toString(36).slice(2);
  return new Promise((resolve) => {
    const answered = (event: MessageEvent<TabQuestion>) => {
      if (event.data.type !== 'visible' || event.data.id !== id) return;
      finish(true);
    };
    const timer = window.setTimeout(() => finish(false), VISIBLE_TAB_ANSWER_MS);
    const finish = (visible: boolean) => {
      window.clearTimeout(timer);
      channel.removeEventListener('message', answered);
      resolve(visible);
    };
    channel.addEventListener('message', answered);
    channel.postMessage({ type: 'anyone-visible', id } satisfies TabQuestion);
  });
}

/**
 * Shows a system notification for each notification that arrives (new, or grouped into an unread
 * one), and each message from someone else (tagged per conversation: a newer one replaces it),
 * while no tab of the app is visible, when the person turned them on. The tag is the
 * notification's id: several hidden tabs of one browser, each hearing the same event, show one
 * notification, and a grouped update replaces the one already shown. Clicking it brings the tab
 * forward at the notification's target.
 */
export function installBrowserNotifications(inbox: Inbox, navigate: (path: string) => void): () => void {
  // One per page: a new session's replaces the last one's.
  uninstall?.();
  const tabs = typeof BroadcastChannel === 'function' ? new BroadcastChannel('tandem-visibility') : undefined;
  tabs?.addEventListener('message', (event: MessageEvent<TabQuestion>) => {
    if (event.data.type === 'anyone-visible' && document.visibilityState === 'visible') tabs.postMessage({ type: 'visible', id: event.data.id } satisfies TabQuestion);
  });
  const show = (title: string, options: NotificationOptions & { tag: string }, target: string) => {
    if (!browserNotificationsOn() || document.visibilityState !== 'hidden') return;
    void askVisibleTabs(tabs).then((seenElsewhere) => {
      if (seenElsewhere || !browserNotificationsOn()) return;
      const shown = new Notification(title, options);
      shown.addEventListener('click', () => {
        window.focus();
        navigate(target);
        shown.close();
      });
    });
  };
  const stops = [
    inbox.onArrival((n: SocialNotification) => {
      if (!n.read) show('Tandem', { body: describeNotification(n), tag: String(n.id), icon: n.actor.avatarUrl }, notificationHref(n));
    }),
    // Messages have no notification of their own (the Messages badge counts them), but a hidden tab should still say so.
    inbox.onMessage((m: Message) => {
      show(m.author.displayName, { body: previewOf(m.body), tag: `message-${m.conversationId}`, icon: m.author.avatarUrl }, `/messages/${m.conversationId}`);
    }),
  ];
  uninstall = () => {
    stops.forEach((stop) => stop());
    tabs?.close();
    uninstall = undefined;
  };
  return uninstall;
}

/**
 * The control on the notifications page: "Notify me on this device" (the browser asks for
 * permission only after that click), or the state with a way to turn it off.
 */
export function browserNotificationsControl(): HTMLElement {
  const el = h('div', { class: 'browser-notifications', 'data-testid': 'browser-notifications' });
  const render = () => {
    if (!supported()) return replace(el, h('p', {}, 'This browser cannot show notifications.'));
    if (Notification.permission === 'denied') {
      return replace(el, h('p', {}, 'Notifications from Tandem are blocked in this browser’s site settings; allow them there to get them on this device.'));
    }
    if (browserNotificationsOn()) {
      return replace(el,
        h('p', {}, 'This device shows a notification for new messages and activity while Tandem is in the background.'),
        h('button', { type: 'button', class: 'secondary small', on: { click: () => { remember(false); announce('Notifications on this device are off'); render(); } } }, 'Turn off'));
    }
    const ask = h('button', { type: 'button', class: 'secondary small' }, 'Notify me on this device');
    ask.addEventListener('click', () => {
      ask.disabled = true;
      Notification.requestPermission().then((permission) => {
        remember(permission === 'granted');
        announce(permission === 'granted' ? 'Notifications on this device are on' : 'Notifications were not allowed');
      }, () => {}).finally(render);
    });
    return replace(el, h('p', {}, 'Get a notification on this device for new messages and activity while Tandem is in the background.'), ask);
  };
  render();
  return el;
}

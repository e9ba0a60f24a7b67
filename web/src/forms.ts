import { describeError, fieldMessages, isRetryable } from './api';
import { onBackOnline } from './connection';
import { announce, h, replace, submitOnModEnter } from './dom';

/** A labelled input; the label wraps nothing, so `for` ties them together. */
export function field(id: string, label: string, input: HTMLInputElement | HTMLTextAreaElement, hint?: string): HTMLElement {
  const hintId = hint === undefined ? undefined : `${id}-hint`;
  input.id = id;
  if (hintId !== undefined) {
    input.setAttribute('aria-describedby', hintId);
    input.dataset.hintId = hintId;
  }
  return h('div', { class: 'field' }, h('label', { for: id }, label), input, hint === undefined ? null : h('p', { class: 'hint', id: hintId }, hint));
}

type Control = HTMLInputElement | HTMLTextAreaElement;

/**
 * Shows (or with undefined, removes) a message right below a control: aria-invalid on the control
 * and aria-describedby pointing at the message (before its hint), so a screen reader reads the
 * problem with the field. `alert` makes it a role=alert (read out when it appears, as after a submit).
 */
export function setFieldError(control: Control, message: string | undefined, options: { alert?: boolean } = {}): void {
  const id = `${control.id}-error`;
  let el = control.id === '' ? null : document.getElementById(id);
  const hintId = control.dataset.hintId;
  if (message === undefined) {
    el?.remove();
    control.removeAttribute('aria-invalid');
    if (hintId === undefined) control.removeAttribute('aria-describedby');
    else control.setAttribute('aria-describedby', hintId);
    return;
  }
  if (el === null) {
    el = h('p', { class: 'field-error', id });
    // Below the control, or below the widget it is part of (a box of chosen people), in its field.
    const wrapper = control.closest('.field');
    let anchor: Element = control;
    while (wrapper !== null && anchor.parentElement !== null && anchor.parentElement !== wrapper) anchor = anchor.parentElement;
    anchor.insertAdjacentElement('afterend', el);
  }
  if (options.alert) el.setAttribute('role', 'alert');
  else el.removeAttribute('role');
  if (el.textContent !== message) replace(el, message);
  control.setAttribute('aria-invalid', 'true');
  control.setAttribute('aria-describedby', hintId === undefined ? id : `${id} ${hintId}`);
}

/** A problem found before sending, about one field of the form (its control's `name`). */
export class FieldProblem extends Error {
  constructor(readonly field: string, message: string) {
    super(message);
    this.name = 'FieldProblem';
  }
}

export interface ErrorLine {
  el: HTMLElement;
  /** Shows a message (or clears with undefined); with `retry`, a Retry button beside it. */
  show(message: string | undefined, retry?: () => void): void;
}

/** A form's error line: role=alert, so it is read out when it appears; an optional Retry button beside it. */
export function errorLine(): ErrorLine {
  const text = h('p', { class: 'form-error', role: 'alert' });
  const retryButton = h('button', { type: 'button', class: 'secondary small retry', hidden: true }, 'Retry');
  let retry: (() => void) | undefined;
  retryButton.addEventListener('click', () => retry?.());
  const el = h('div', { class: 'form-error-row' }, text, retryButton);
  return {
    el,
    show: (message, onRetry) => {
      replace(text, message ?? '');
      retry = message === undefined ? undefined : onRetry;
      retryButton.hidden = retry === undefined;
    },
  };
}

/** The control of `form` named `name`, if it is a text field. */
function controlNamed(form: HTMLFormElement, name: string): Control | undefined {
  const item = form.elements.namedItem(name);
  return item instanceof HTMLInputElement || item instanceof HTMLTextAreaElement ? item : undefined;
}

/**
 * Runs a form's submit with the button disabled and errors shown; returns to the form on failure.
 * A validation error's fields are shown next to their controls (found by `name`), the rest on the
 * form's line. An error worth retrying (the network, a busy server) gets a Retry button, and the
 * submit runs again by itself when the connection comes back; the message goes once it works.
 */
export function onSubmit(form: HTMLFormElement, error: Pick<ErrorLine, 'show'>, run: () => Promise<void>): void {
  let marked: Control[] = [];
  let stopWaiting: (() => void) | undefined;
  const clearMarks = () => {
    for (const control of marked) setFieldError(control, undefined);
    marked = [];
  };
  const submit = () => {
    if (form.isConnected) form.requestSubmit();
  };
  form.addEventListener('input', (event) => {
    // Editing a field takes back what was said about it.
    const target = event.target;
    if ((target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement) && marked.includes(target)) {
      setFieldError(target, undefined);
      marked = marked.filter((c) => c !== target);
    }
  });
  const fail = (e: unknown) => {
    const problems = e instanceof FieldProblem ? [{ name: e.field, sentence: e.message }] : fieldMessages(e);
    const rest: string[] = [];
    for (const { name, sentence } of problems) {
      const control = controlNamed(form, name);
      if (control === undefined || marked.includes(control)) rest.push(sentence);
      else {
        setFieldError(control, sentence, { alert: true });
        marked.push(control);
      }
    }
    if (marked.length > 0) marked[0]!.focus();
    if (problems.length > 0) return error.show(rest.length === 0 ? undefined : [...new Set(rest)].join(' '));
    if (!isRetryable(e)) return error.show(describeError(e));
    error.show(describeError(e), submit);
    // Once the page is connected again, the same submit (same text, same Idempotency-Key) goes again.
    stopWaiting ??= onBackOnline(() => {
      stopWaiting?.();
      stopWaiting = undefined;
      submit();
    });
  };
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const buttons = [...form.querySelectorAll('button')];
    if (buttons.some((b) => b.disabled)) return;
    error.show(undefined);
    clearMarks();
    stopWaiting?.();
    stopWaiting = undefined;
    buttons.forEach((b) => (b.disabled = true));
    form.setAttribute('aria-busy', 'true');
    run()
      .catch(fail)
      .finally(() => {
        buttons.forEach((b) => (b.disabled = false));
        form.removeAttribute('aria-busy');
      });
  });
}

/** Characters as the server counts them (JSON Schema's maxLength: code points, so an emoji is one). */
export function characterCount(text: string): number {
  let n = text.length;
  for (let i = 0; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    if (c >= 0xdc00 && c <= 0xdfff && i > 0) {
      const p = text.charCodeAt(i - 1);
      if (p >= 0xd800 && p <= 0xdbff) n -= 1;
    }
  }
  return n;
}

/** From this share of the limit on, the counter shows. */
const COUNTER_FROM = 0.9;
const number = new Intl.NumberFormat();

/** Where the text stands against its limit: far below, near (counter shown), or over (refused). */
type Level = 'below' | 'near' | 'over';

/** Mac keyboards send with ⌘, the others with Ctrl. */
function sendShortcut(): string {
  const platform = (navigator as Navigator & { userAgentData?: { platform?: string } }).userAgentData?.platform ?? navigator.platform;
  return /mac|iphone|ipad/i.test(platform) ? '⌘+Enter to send' : 'Ctrl+Enter to send';
}

function newKey(): string {
  return crypto.randomUUID();
}

export interface ComposerOptions {
  id: string;
  label: string;
  placeholder: string;
  button: string;
  /** The server's limit for this text (src/apps/social/limits.ts). */
  maxLength: number;
  /**
   * Sends the text. `idempotencyKey` stays the same while the same text is sent again (Retry, or
   * automatically when the connection is back), so a send whose answer was lost is not posted twice.
   */
  send(body: string, options: { idempotencyKey: string }): Promise<void>;
  visibleLabel?: boolean;
  /** Escape in the box, or its Cancel button (shown when this is given): e.g. closes a reply box. */
  onCancel?: () => void;
}

/**
 * A labelled textarea + submit button; clears itself after `send` succeeds. Nothing is cut: over
 * the limit the text stays, the counter says by how much, and sending is refused with that
 * sentence next to the box. Blank text is refused the same way ("Write something first.").
 */
export function composer(options: ComposerOptions): { el: HTMLFormElement; textarea: HTMLTextAreaElement } {
  const textarea = h('textarea', { id: options.id, name: 'body', rows: '3', placeholder: options.placeholder });
  submitOnModEnter(textarea);
  const error = errorLine();
  const counter = h('span', { class: 'counter', hidden: true, 'data-testid': 'counter' });
  const button = h('button', { type: 'submit', class: 'primary' }, options.button);
  const el = h('form', { class: 'composer' },
    h('label', { for: options.id, class: options.visibleLabel ? 'composer-label' : 'visually-hidden' }, options.label),
    textarea,
    h('div', { class: 'composer-row' },
      h('span', { class: 'hint composer-hint', 'aria-hidden': 'true' }, sendShortcut()),
      counter,
      // A box that can be closed says so with a button too: Escape is no help on a phone.
      options.onCancel === undefined ? null : h('button', { type: 'button', class: 'secondary', on: { click: () => options.onCancel?.() } }, 'Cancel'),
      button),
    error.el,
  );
  const limit = options.maxLength;
  let level: Level = 'below';
  const overBy = (length: number) => `Too long by ${number.format(length - limit)} ${length - limit === 1 ? 'character' : 'characters'}: at most ${number.format(limit)}.`;

  /** The counter near and over the limit; screen readers hear only the crossings, not every keystroke. */
  const measure = () => {
    const length = characterCount(textarea.value);
    const next: Level = length > limit ? 'over' : length >= limit * COUNTER_FROM ? 'near' : 'below';
    counter.hidden = next === 'below';
    replace(counter, `${number.format(length)} / ${number.format(limit)}`);
    counter.classList.toggle('over', next === 'over');
    button.setAttribute('aria-disabled', String(next === 'over'));
    if (next === 'over') setFieldError(textarea, overBy(length));
    else if (level === 'over') setFieldError(textarea, undefined);
    if (next !== level) {
      if (next === 'over') announce(overBy(length));
      else if (next === 'near') announce(`${number.format(limit - length)} characters left.`);
      else if (level === 'over') announce('Within the limit again.');
    }
    level = next;
  };
  textarea.addEventListener('input', measure);
  textarea.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && options.onCancel !== undefined) {
      event.preventDefault();
      options.onCancel();
    }
  });

  let key = newKey();
  let keyFor: string | undefined;
  onSubmit(el, error, async () => {
    const body = textarea.value;
    if (body.trim() === '') throw new FieldProblem('body', 'Write something first.');
    const length = characterCount(body);
    if (length > limit) throw new FieldProblem('body', overBy(length));
    // A new text gets a new key; the same text again (a retry) keeps its key.
    if (body !== keyFor) {
      key = newKey();
      keyFor = body;
    }
    await options.send(body, { idempotencyKey: key });
    keyFor = undefined;
    textarea.value = '';
    measure();
    textarea.focus();
  });
  return { el, textarea };
}

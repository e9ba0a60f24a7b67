import type { UserRef } from '../../src/apps/social/schemas';
import { announce, h, replace } from './dom';
import { avatar } from './people';

/**
 * A people picker: a text box that suggests people as you type (GET /api/users?q=) and collects
 * several of them as chips. The ARIA 1.2 combobox pattern with a listbox popup: the input has
 * role=combobox, aria-expanded and aria-controls; the active suggestion is named by
 * aria-activedescendant while focus stays in the input. Down/Up move through the suggestions
 * (Down opens them), Enter picks the active one, Escape closes them, Backspace in an empty box
 * removes the last chip. With no suggestion active, Enter submits the form as usual, and names
 * typed without picking (comma-separated) still count: the picker helps, it does not insist.
 */

/** How long typing must pause before a suggestion request goes out (ms). */
const DEBOUNCE_MS = 150;

export interface PeoplePickerOptions {
  /** The input's id; the listbox and options derive theirs from it. */
  id: string;
  label: string;
  placeholder?: string;
  /** A line under the box saying how to use it. */
  hint?: string;
  /** The suggestions for a prefix; `signal` aborts a request that a newer keystroke made stale. */
  search(prefix: string, signal: AbortSignal): Promise<UserRef[]>;
  /** People never suggested (yourself). */
  exclude?: (user: UserRef) => boolean;
}

export interface PeoplePicker {
  el: HTMLElement;
  input: HTMLInputElement;
  /** The usernames picked, then those typed into the box and not picked. */
  usernames(): string[];
  clear(): void;
  /** Stops pending requests and timers. */
  dispose(): void;
}

export function peoplePicker(options: PeoplePickerOptions): PeoplePicker {
  const listId = `${options.id}-listbox`;
  const picked: UserRef[] = [];
  let suggestions: UserRef[] = [];
  let active = -1;
  let timer: number | undefined;
  let pending: AbortController | undefined;

  const input = h('input', {
    id: options.id, name: 'members', type: 'text', role: 'combobox', 'aria-autocomplete': 'list', 'aria-expanded': 'false',
    'aria-controls': listId, autocomplete: 'off', autocapitalize: 'none', spellcheck: 'false', placeholder: options.placeholder ?? '',
    'aria-describedby': options.hint === undefined ? undefined : `${options.id}-hint`,
  });
  const chips = h('ul', { class: 'chips', 'aria-label': 'People picked' });
  const listbox = h('ul', { id: listId, role: 'listbox', class: 'suggestions', 'aria-label': `Suggestions for ${options.label}`, hidden: true });
  const box = h('div', { class: 'picker-box', on: { click: (event) => { if (event.target === box) input.focus(); } } }, chips, input);

  /** The word being typed: the text after the last comma, without a leading @. */
  const current = () => (input.value.split(',').at(-1) ?? '').trim().replace(/^@/, '');

  function open(): boolean {
    return input.getAttribute('aria-expanded') === 'true';
  }

  function close(): void {
    pending?.abort();
    window.clearTimeout(timer);
    suggestions = [];
    setActive(-1);
    listbox.hidden = true;
    replace(listbox);
    input.setAttribute('aria-expanded', 'false');
  }

  function setActive(index: number): void {
    active = index;
    for (const [i, option] of [...listbox.children].entries()) option.setAttribute('aria-selected', String(i === index));
    if (index < 0) input.removeAttribute('aria-activedescendant');
    else {
      const option = listbox.children[index] as HTMLElement;
      input.setAttribute('aria-activedescendant', option.id);
      option.scrollIntoView({ block: 'nearest' });
    }
  }

  function show(found: UserRef[]): void {
    suggestions = found.filter((u) => !picked.some((p) => p.id === u.id) && !(options.exclude?.(u) ?? false));
    replace(listbox, ...suggestions.map((user, i) =>
      h('li', {
        id: `${options.id}-option-${user.id}`, role: 'option', class: 'suggestion', 'aria-selected': 'false', 'data-username': user.username,
        on: { mousedown: (event) => event.preventDefault(), click: () => pick(i) },
      },
      avatar(user),
      h('span', { class: 'display-name' }, user.displayName),
      h('span', { class: 'handle' }, `@${user.username}`))));
    listbox.hidden = suggestions.length === 0;
    input.setAttribute('aria-expanded', String(!listbox.hidden));
    setActive(-1);
  }

  function lookUp(): void {
    window.clearTimeout(timer);
    pending?.abort();
    const prefix = current();
    if (prefix === '') return close();
    timer = window.setTimeout(() => {
      const controller = new AbortController();
      pending = controller;
      options.search(prefix, controller.signal).then(
        (found) => { if (!controller.signal.aborted) show(found); },
        () => { if (!controller.signal.aborted) close(); }, // suggestions are a help: a failure just shows none
      );
    }, DEBOUNCE_MS);
  }

  function pick(index: number): void {
    const user = suggestions[index];
    if (user === undefined) return;
    picked.push(user);
    // The word being typed is replaced by the chip; names typed before it stay.
    const before = input.value.split(',').slice(0, -1).join(',');
    input.value = before === '' ? '' : `${before}, `;
    drawChips();
    close();
    input.focus();
    announce(`${user.displayName} added.`);
  }

  function unpick(user: UserRef): void {
    picked.splice(picked.indexOf(user), 1);
    drawChips();
    input.focus();
    announce(`${user.displayName} removed.`);
  }

  function drawChips(): void {
    replace(chips, ...picked.map((user) =>
      h('li', { class: 'chip', 'data-username': user.username },
        avatar(user),
        h('span', { class: 'display-name' }, user.displayName),
        h('button', { type: 'button', class: 'chip-remove', 'aria-label': `Remove ${user.displayName}`, on: { click: () => unpick(user) } }, '×'))));
  }

  input.addEventListener('input', lookUp);
  input.addEventListener('blur', () => close());
  input.addEventListener('keydown', (event) => {
    if (event.key === 'ArrowDown') {
      event.preventDefault();
      if (!open()) lookUp();
      else setActive((active + 1) % suggestions.length);
    } else if (event.key === 'ArrowUp') {
      if (!open()) return;
      event.preventDefault();
      setActive(active <= 0 ? suggestions.length - 1 : active - 1);
    } else if (event.key === 'Enter') {
      if (!open() || active < 0) return; // the form's own Enter
      event.preventDefault();
      pick(active);
    } else if (event.key === 'Escape') {
      if (!open()) return;
      event.preventDefault();
      event.stopPropagation();
      close();
    } else if (event.key === 'Backspace' && input.value === '' && picked.length > 0) {
      unpick(picked[picked.length - 1]!);
    }
  });

  const el = h('div', { class: 'field people-picker' },
    h('label', { for: options.id }, options.label), box, listbox,
    options.hint === undefined ? null : h('p', { class: 'hint', id: `${options.id}-hint` }, options.hint));
  return {
    el,
    input,
    usernames: () => {
      const typed = input.value.split(/[\s,]+/).map((s) => s.trim().replace(/^@/, '')).filter((s) => s !== '');
      return [...new Set([...picked.map((u) => u.username), ...typed])];
    },
    clear: () => {
      picked.length = 0;
      input.value = '';
      drawChips();
      close();
    },
    dispose: () => close(),
  };
}

import { describeError } from './api';
import { h, replace, submitOnModEnter } from './dom';

/** A labelled input; the label wraps nothing, so `for` ties them together. */
export function field(id: string, label: string, input: HTMLInputElement | HTMLTextAreaElement, hint?: string): HTMLElement {
  const hintId = hint === undefined ? undefined : `${id}-hint`;
  input.id = id;
  if (hintId !== undefined) input.setAttribute('aria-describedby', hintId);
  return h('div', { class: 'field' }, h('label', { for: id }, label), input, hint === undefined ? null : h('p', { class: 'hint', id: hintId }, hint));
}

/** A form's error line: role=alert, so it is read out when it appears. */
export function errorLine(): { el: HTMLElement; show(message: string | undefined): void } {
  const el = h('p', { class: 'form-error', role: 'alert' });
  return { el, show: (message) => replace(el, message ?? '') };
}

/** Runs a form's submit with the button disabled and errors shown; returns to the form on failure. */
export function onSubmit(form: HTMLFormElement, error: { show(message: string | undefined): void }, run: () => Promise<void>): void {
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const buttons = [...form.querySelectorAll('button')];
    if (buttons.some((b) => b.disabled)) return;
    error.show(undefined);
    buttons.forEach((b) => (b.disabled = true));
    form.setAttribute('aria-busy', 'true');
    run()
      .catch((e: unknown) => error.show(describeError(e)))
      .finally(() => {
        buttons.forEach((b) => (b.disabled = false));
        form.removeAttribute('aria-busy');
      });
  });
}

/** A labelled textarea + submit button; clears itself after `send` succeeds. */
export function composer(options: { id: string; label: string; placeholder: string; button: string; maxLength: number; send(body: string): Promise<void>; visibleLabel?: boolean }): { el: HTMLFormElement; textarea: HTMLTextAreaElement } {
  const textarea = h('textarea', { id: options.id, name: 'body', rows: '3', required: true, maxlength: options.maxLength, placeholder: options.placeholder });
  submitOnModEnter(textarea);
  const error = errorLine();
  const el = h('form', { class: 'composer' },
    h('label', { for: options.id, class: options.visibleLabel ? 'composer-label' : 'visually-hidden' }, options.label),
    textarea,
    h('div', { class: 'composer-row' }, h('span', { class: 'hint', 'aria-hidden': 'true' }, 'Ctrl+Enter to send'), h('button', { type: 'submit', class: 'primary' }, options.button)),
    error.el,
  );
  onSubmit(el, error, async () => {
    const body = textarea.value;
    if (body.trim() === '') return;
    await options.send(body);
    textarea.value = '';
    textarea.focus();
  });
  return { el, textarea };
}

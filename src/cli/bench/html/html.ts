/**
 * Building HTML from untrusted text. Every value put into an `html` template is escaped unless
 * it is itself the result of `html`, so a report string can never become markup.
 */

/** Markup that is already safe: made by `html` from escaped parts. */
export class SafeHtml {
  readonly #markup: string;

  constructor(markup: string) {
    this.#markup = markup;
  }

  toString(): string {
    return this.#markup;
  }
}

type Part = SafeHtml | string | number | boolean | null | undefined | readonly Part[];

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for an element's content or a quoted attribute value. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}

function render(part: Part): string {
  if (part instanceof SafeHtml) return part.toString();
  if (Array.isArray(part)) return part.map(render).join('');
  if (part === null || part === undefined || part === false) return '';
  return escapeHtml(String(part));
}

/**
 * Tagged template: the literal parts are markup, every interpolated value is escaped (arrays are
 * joined, `SafeHtml` is kept, null/undefined/false are dropped).
 *
 * @example html`<td>${report.machine.cpuModel}</td>`
 */
export function html(strings: TemplateStringsArray, ...values: Part[]): SafeHtml {
  let out = strings[0]!;
  values.forEach((value, i) => (out += render(value) + strings[i + 1]!));
  return new SafeHtml(out);
}

/**
 * JSON for the inside of a `<script type="application/json">` element. `<`, `>` and `&` are
 * written as \u escapes (still the same JSON), so no `</script>` or `<!--` can end or change the
 * element; U+2028/2029 likewise, for older parsers that treat them as line ends.
 */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

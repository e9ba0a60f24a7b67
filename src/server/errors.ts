import { libraryErrors, type ErrorSpec, type LibraryErrorCode } from '../protocol/errors';

export { libraryErrors, type ClosingErrorCode, type ErrorSpec, type LibraryErrorCode } from '../protocol/errors';

/** One field-level problem, as reported in a validation error. */
export interface FieldError {
  field: string;
  message: string;
  /** The JSON Schema keyword that failed (maxLength, pattern, …), for clients that word their own message. */
  keyword?: string;
  /** That keyword's bound (maxLength's length, minimum's value), where it has one. */
  limit?: number;
}

export interface TandemErrorOptions {
  /** Field-level problems (validation errors). */
  errors?: FieldError[];
  /** Response headers sent with the problem (Retry-After, ETag, WWW-Authenticate). */
  headers?: Record<string, string>;
  /** Extension members of the problem (RFC 9457 §3.2), e.g. a stream's close. */
  extensions?: Record<string, unknown>;
}

/**
 * An error with a catalog code; the HTTP layer answers it as problem+json, the realtime layer as
 * an `err` frame. The library's codes are constructed directly; an app's come from its
 * `defineErrors` catalog, which supplies their status and title.
 *
 * @example
 *   throw new TandemError('not_found', `Post ${id} does not exist`);
 *   throw pollErrors.error('poll_closed', 'Votes closed at noon');
 */
export class TandemError extends Error {
  readonly code: string;
  readonly status: number;
  readonly title: string;
  readonly detail: string | undefined;
  readonly errors: FieldError[] | undefined;
  readonly headers: Record<string, string> | undefined;
  readonly extensions: Record<string, unknown> | undefined;

  constructor(code: LibraryErrorCode, detail?: string, options?: TandemErrorOptions);
  /** For catalogs (defineErrors): a code with its own spec. */
  constructor(code: string, detail: string | undefined, options: TandemErrorOptions & { spec: ErrorSpec });
  constructor(code: string, detail?: string, options: TandemErrorOptions & { spec?: ErrorSpec } = {}) {
    const spec = options.spec ?? (libraryErrors as Record<string, ErrorSpec>)[code];
    if (spec === undefined) throw new TypeError(`Unknown error code '${code}': define it with defineErrors`);
    super(detail ?? spec.title);
    this.name = 'TandemError';
    this.code = code;
    this.status = spec.status;
    this.title = spec.title;
    this.detail = detail;
    this.errors = options.errors;
    this.headers = options.headers;
    this.extensions = options.extensions;
  }
}

/** An app's own error codes, joined to the library's (see defineErrors). */
export interface ErrorCatalog<C extends string = string> {
  readonly entries: Readonly<Record<C, ErrorSpec>>;
  /** The error to throw for one of the catalog's codes. */
  error(code: C, detail?: string, options?: TandemErrorOptions): TandemError;
}

const CODE = /^[a-z][a-z0-9_]*[a-z0-9]$/;

/**
 * Declares an app's error codes. Each needs an HTTP status (4xx or 5xx) and a title; a code the
 * library already has is refused (codes are never reused). The app's codes are answered exactly
 * like the library's (problem+json, `err` frames) and listed in docs/errors.md and the OpenAPI
 * document.
 *
 * @example
 *   export const pollErrors = defineErrors({ poll_closed: { status: 409, title: 'The poll is closed' } });
 *   throw pollErrors.error('poll_closed');
 */
export function defineErrors<const T extends Record<string, ErrorSpec>>(entries: T): ErrorCatalog<keyof T & string> {
  for (const [code, spec] of Object.entries(entries)) {
    if (!CODE.test(code)) throw new TypeError(`Error code '${code}' must be snake_case`);
    if (Object.hasOwn(libraryErrors, code)) throw new TypeError(`Error code '${code}' is the library's: choose another`);
    if (!(spec.status >= 400 && spec.status < 600) || spec.title.trim() === '') throw new TypeError(`Error '${code}' needs a 4xx/5xx status and a title`);
  }
  return {
    entries,
    error: (code, detail, options = {}) => new TandemError(code, detail, { ...options, spec: entries[code] as ErrorSpec }),
  };
}

import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Problem } from '../../protocol/problem';
import { TandemError, type LibraryErrorCode } from '../errors';
import { isStoreUnavailable } from '../store/database';
import { fieldErrors } from './validation';

const PROBLEM_CONTENT_TYPE = 'application/problem+json';
/** Seconds a client is told to wait when the store is down: a restart or failover takes a few. */
const STORE_RETRY_AFTER_SECONDS = '5';

function problemType(code: string): string {
  return `urn:tandem:error:${code}`;
}

function toProblem(error: TandemError, instance?: string): Problem {
  const problem: Problem = { ...error.extensions, type: problemType(error.code), title: error.title, status: error.status, code: error.code };
  if (error.detail !== undefined) problem.detail = error.detail;
  if (instance !== undefined) problem.instance = instance;
  if (error.errors !== undefined) problem.errors = error.errors;
  return problem;
}

/** Fastify's own error codes, mapped onto the catalog. */
const FASTIFY_CODES: Record<string, LibraryErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'validation_failed',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'malformed_json',
  FST_ERR_CTP_INVALID_JSON_BODY: 'malformed_json',
  FST_ERR_BAD_URL: 'not_found',
  FST_ERR_MAX_PARAM_LENGTH: 'not_found',
  FST_ERR_ASYNC_CONSTRAINT: 'not_found',
};

/** Normalises anything thrown in a request into a TandemError. */
function asTandemError(error: unknown): TandemError {
  if (error instanceof TandemError) return error;
  const fastifyError = error as FastifyError & { validationContext?: string };
  if (Array.isArray(fastifyError.validation)) {
    return new TandemError('validation_failed', 'Some fields are not valid', {
      errors: fieldErrors(fastifyError.validationContext, fastifyError.validation),
    });
  }
  const mapped = typeof fastifyError.code === 'string' ? FASTIFY_CODES[fastifyError.code] : undefined;
  if (mapped !== undefined) return new TandemError(mapped);
  // JSON.parse errors raised by the body parser carry status 400 and no code of their own.
  if (fastifyError instanceof SyntaxError || fastifyError.statusCode === 400) return new TandemError('malformed_json');
  if (fastifyError.statusCode === 413) return new TandemError('payload_too_large');
  if (fastifyError.statusCode === 415) return new TandemError('unsupported_media_type');
  // The database is down or out of reach: the request was fine and a retry will do (503, not 500).
  if (isStoreUnavailable(error)) return new TandemError('unavailable', 'The database cannot be reached; retry shortly', { headers: { 'retry-after': STORE_RETRY_AFTER_SECONDS } });
  // PostgreSQL refused a value the request carried (class 22, data exception: a NUL byte in text,
  // a number beyond a column's range): the request is at fault, and nothing was written.
  if (isDataException(error)) return new TandemError('validation_failed', 'A value is not one the store can hold (out of range, or a NUL character)');
  return new TandemError('internal_error');
}

function isDataException(error: unknown): boolean {
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    const { code, severity } = e as { code?: unknown; severity?: unknown };
    if (typeof code === 'string' && typeof severity === 'string' && code.startsWith('22')) return true;
  }
  return false;
}

function sendProblem(request: FastifyRequest, reply: FastifyReply, error: TandemError): FastifyReply {
  if (error.headers !== undefined) reply.headers(error.headers);
  return reply
    .code(error.status)
    .header('cache-control', 'no-store')
    .type(PROBLEM_CONTENT_TYPE)
    .send(JSON.stringify(toProblem(error, request.url)));
}

/**
 * Fastify's `frameworkErrors` hook: errors the router raises before any route hook runs
 * (bad percent-encoding, over-long params). No onRequest hook has set the request id or the
 * security headers yet, so this sets the id and nosniff itself.
 */
export function sendFrameworkProblem(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  reply.header('x-request-id', request.id).header('x-content-type-options', 'nosniff');
  void sendProblem(request, reply, asTandemError(error));
}

/** Installs the problem+json error and not-found handlers. */
export function installProblemHandlers(app: FastifyInstance): void {
  app.setErrorHandler((error, request, reply) => {
    const tandemError = asTandemError(error);
    if (tandemError.code === 'internal_error') request.log.error({ err: error }, 'unhandled error');
    else if (tandemError !== error && tandemError.code === 'unavailable') request.log.warn({ err: error }, 'the store is unreachable');
    return sendProblem(request, reply, tandemError);
  });
  app.setNotFoundHandler((request, reply) =>
    sendProblem(request, reply, new TandemError('not_found', `No route for ${request.method} ${request.url.split('?')[0]}`)),
  );
}

import { Ajv, type ErrorObject, type Options } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { FastifySchemaCompiler } from 'fastify';
import type { FieldError } from '../errors';

// ajv-formats is CommonJS; its default export arrives wrapped under some loaders.
const addFormats = ((addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule);

function makeAjv(options: Options): Ajv {
  const ajv = new Ajv({ allErrors: true, strict: false, useDefaults: true, ...options });
  addFormats(ajv);
  return ajv;
}

/**
 * Bodies are validated strictly (no type coercion, unknown fields refused), while query
 * strings, params and headers coerce their strings to the declared types.
 */
export function createValidatorCompiler(): FastifySchemaCompiler<unknown> {
  const bodyAjv = makeAjv({ coerceTypes: false, removeAdditional: false });
  const textAjv = makeAjv({ coerceTypes: 'array', removeAdditional: false });
  return ({ schema, httpPart }) => {
    const ajv = httpPart === 'body' ? bodyAjv : textAjv;
    return ajv.compile(schema as object) as ReturnType<FastifySchemaCompiler<unknown>>;
  };
}

/** Turns Ajv errors into `{field, message}` pairs naming the offending field. */
export function fieldErrors(context: string | undefined, errors: ErrorObject[] | Partial<ErrorObject>[]): FieldError[] {
  const prefix = context ?? 'body';
  return errors.map((error) => {
    const params = (error.params ?? {}) as Record<string, unknown>;
    const path = (error.instancePath ?? '').replace(/^\//, '').replaceAll('/', '.');
    const extra =
      typeof params.missingProperty === 'string' ? params.missingProperty
      : typeof params.additionalProperty === 'string' ? params.additionalProperty
      : '';
    const field = [prefix, path, extra].filter(Boolean).join('.');
    const message = typeof params.additionalProperty === 'string' ? 'is not an allowed field' : (error.message ?? 'is invalid');
    const keyword = error.keyword;
    return { field, message, ...(keyword === undefined ? {} : { keyword }), ...(typeof params.limit === 'number' ? { limit: params.limit } : {}) };
  });
}

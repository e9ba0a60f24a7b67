import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';

export interface OpenApiInfo {
  title: string;
  version: string;
  description: string;
}

/**
 * Generates OpenAPI 3.1 from the route schemas (the same ones that validate requests),
 * served at /api/openapi.json, with a browsable page at /api/docs. Register before routes.
 */
export async function installOpenApi(app: FastifyInstance, info: OpenApiInfo, options: { upgradeInsecureRequests: boolean; errorCodes: readonly string[] }): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info,
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
    },
    hideUntagged: true,
    transform: ({ schema, url, route }) => {
      const s = { ...(schema as Record<string, unknown>) };
      const guarded = Array.isArray(route.preHandler) ? route.preHandler.length > 0 : route.preHandler !== undefined;
      if (guarded) s.security = [{ bearer: [] }];
      return { schema: s, url };
    },
    // Every problem's `code` is one of the library's or the app's (docs/errors.md).
    transformObject: (document) => withErrorCodes('openapiObject' in document ? document.openapiObject : document.swaggerObject, options.errorCodes),
  });
  // swagger-ui's built-in policy always adds upgrade-insecure-requests, which blanks the page on
  // plain HTTP; this is the same policy with that directive following TANDEM_HSTS like every page.
  const staticCSP = {
    'default-src': ["'self'"],
    'base-uri': ["'self'"],
    'font-src': ["'self'", 'data:'],
    'frame-ancestors': ["'self'"],
    'img-src': ["'self'", 'data:'],
    'object-src': ["'none'"],
    'script-src': ["'self'"],
    'script-src-attr': ["'none'"],
    'style-src': ["'self'", "'unsafe-inline'"],
    ...(options.upgradeInsecureRequests ? { 'upgrade-insecure-requests': [''] } : {}),
  };
  await app.register(swaggerUi, { routePrefix: '/api/docs', staticCSP, uiConfig: { docExpansion: 'list', deepLinking: true } });
  app.get('/api/openapi.json', { schema: { hide: true } }, async (_request, reply) => {
    reply.header('cache-control', 'public, max-age=60');
    return app.swagger();
  });
}

/**
 * Every problem answer refers to one `Problem` component whose `code` lists the known codes (the
 * library's and the app's), instead of repeating the schema in each response.
 */
function withErrorCodes<T>(original: T, codes: readonly string[]): T {
  // A copy: the document shares schema objects with the routes.
  const document = JSON.parse(JSON.stringify(original)) as T & { components?: { schemas?: Record<string, unknown> } };
  let problem: Record<string, unknown> | undefined;
  const visit = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(visit);
    if (node === null || typeof node !== 'object') return node;
    const object = node as Record<string, unknown>;
    if (object.title === 'Problem' && typeof object.properties === 'object') {
      problem ??= object;
      return { $ref: '#/components/schemas/Problem' };
    }
    for (const [key, value] of Object.entries(object)) object[key] = visit(value);
    return object;
  };
  visit(document);
  if (problem !== undefined) {
    const properties = problem.properties as Record<string, Record<string, unknown>>;
    if (properties.code !== undefined) properties.code.enum = [...codes];
    document.components = { ...document.components, schemas: { ...document.components?.schemas, Problem: problem } };
  }
  return document;
}

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
export async function installOpenApi(app: FastifyInstance, info: OpenApiInfo): Promise<void> {
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
  });
  await app.register(swaggerUi, { routePrefix: '/api/docs', staticCSP: true, uiConfig: { docExpansion: 'list', deepLinking: true } });
  app.get('/api/openapi.json', { schema: { hide: true } }, async (_request, reply) => {
    reply.header('cache-control', 'public, max-age=60');
    return app.swagger();
  });
}

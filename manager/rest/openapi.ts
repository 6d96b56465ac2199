/**
 * `GET /openapi.json`: an OpenAPI 3.0 document built from the JSON schemas the routes register
 * with fastify, so the document and the validation cannot disagree. An onRoute hook collects each
 * route as it is added; the document is assembled once, on the first request.
 */
import type { FastifyInstance, FastifySchema, RouteOptions } from 'fastify';

declare module 'fastify' {
  interface FastifySchema {
    /** One line for the OpenAPI document. */
    summary?: string;
    tags?: string[];
  }
}

interface Collected {
  readonly method: string;
  readonly url: string;
  readonly schema: FastifySchema;
}

type JsonSchema = { type?: string; properties?: Record<string, unknown>; required?: string[] } & Record<string, unknown>;

const SIGN_IN_ROUTES = new Set(['/api/v1/users/signin', '/api/v1/users/signup']);

function parameters(where: 'path' | 'query', schema: unknown): object[] {
  const { properties = {}, required = [] } = (schema ?? {}) as JsonSchema;
  return Object.entries(properties).map(([name, property]) => ({ name, in: where, required: where === 'path' || required.includes(name), schema: property }));
}

function security(url: string): object[] | undefined {
  if (url.startsWith('/oapi/')) return [{ personalAccessToken: [] }];
  if (url.startsWith('/api/') && !SIGN_IN_ROUTES.has(url)) return [{ bearer: [] }, { cookie: [] }];
  return undefined;
}

/** The document for the collected routes (exported for tests and tools). */
export function openApiDocument(routes: readonly Collected[]): object {
  const paths: Record<string, Record<string, object>> = {};
  for (const { method, url, schema } of routes) {
    const path = url.replace(/:([A-Za-z_][A-Za-z0-9_]*)/g, '{$1}');
    const operation: Record<string, unknown> = {
      ...(schema.summary && { summary: schema.summary }),
      ...(schema.tags && { tags: schema.tags }),
      parameters: [...parameters('path', schema.params), ...parameters('query', schema.querystring)],
      responses: { default: { description: 'errors are {code, message[, field]}', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } } },
    };
    if (schema.body) operation.requestBody = { required: true, content: { 'application/json': { schema: schema.body } } };
    const secured = security(url);
    if (secured) operation.security = secured;
    (paths[path] ??= {})[method.toLowerCase()] = operation;
  }
  return {
    openapi: '3.0.3',
    info: { title: 'Dragonfly manager', version: 'v1' },
    paths,
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
        cookie: { type: 'apiKey', in: 'cookie', name: 'jwt' },
        personalAccessToken: { type: 'http', scheme: 'bearer', description: 'a personal access token, dfp_...' },
      },
      schemas: {
        Error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' }, field: { type: 'string' } }, required: ['code', 'message'] },
      },
    },
  };
}

export function installOpenApi(app: FastifyInstance): void {
  const routes: Collected[] = [];
  app.addHook('onRoute', (route: RouteOptions) => {
    // HEAD routes are fastify's automatic twins of GET.
    for (const method of [route.method].flat()) {
      if (method === 'HEAD' || route.url === '/openapi.json') continue;
      routes.push({ method, url: route.url, schema: (route.schema ?? {}) as Collected['schema'] });
    }
  });
  let document: object | undefined;
  app.get('/openapi.json', async () => (document ??= openApiDocument(routes)));
}

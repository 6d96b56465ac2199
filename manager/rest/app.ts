/**
 * The manager's REST API (Dragonfly's paths, snake_case JSON) as one fastify instance. Routes are
 * plugins, one file per resource, each given the manager's context; handlers are thin over the
 * services. Every failure goes through one error handler: a DfError answers with its code's HTTP
 * status from api's table and `{ code, message }`; a schema failure is a 400 naming the field;
 * anything else is a 500 that is logged and says nothing about internals.
 */
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import { DfError, METRICS_CONTENT_TYPE, statusOf } from '../../api/index.ts';
import type { ManagerContext } from '../context.ts';
import { InvalidFieldError } from '../errors.ts';
import { installAuth } from './auth.ts';
import { installOpenApi } from './openapi.ts';

/** A group of routes: registered on the app with the context. */
export type RoutePlugin = (app: FastifyInstance, context: ManagerContext) => void | Promise<void>;

export interface AppOptions {
  readonly routes?: readonly RoutePlugin[];
}

export async function buildApp(context: ManagerContext, options: AppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: false,
    // Large enough for a job with a thousand URLs, small enough that a stray upload is refused.
    bodyLimit: 1024 * 1024,
    // strictNumbers: a JSON 1e400 (Infinity) is not a number; the query's are caught below.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: false, strictNumbers: true } },
  });

  app.setErrorHandler((error: FastifyError | DfError | Error, request, reply) => {
    if (error instanceof DfError) {
      const field = error instanceof InvalidFieldError ? { field: error.field } : {};
      void reply.status(statusOf(error).http).send({ code: error.code, message: error.message, ...field });
      return;
    }
    const validation = (error as FastifyError).validation;
    if (validation) {
      const first = validation[0];
      const where = (error as FastifyError).validationContext ?? 'body';
      const path = first?.instancePath ? first.instancePath.slice(1).replaceAll('/', '.') : (first?.params as { missingProperty?: string } | undefined)?.missingProperty;
      const field = path ? `${where}.${path}` : where;
      void reply.status(400).send({ code: 'DF_ERR_INVALID_ARGUMENT', message: `${field} ${first?.message ?? 'is invalid'}`, field });
      return;
    }
    const status = (error as FastifyError).statusCode;
    if (status !== undefined && status >= 400 && status < 500) {
      void reply.status(status).send({ code: 'DF_ERR_INVALID_ARGUMENT', message: error.message });
      return;
    }
    context.log.error('request failed', { method: request.method, url: request.routeOptions.url, error });
    void reply.status(500).send({ code: 'DF_ERR_INTERNAL', message: 'internal error; see the manager log' });
  });
  app.setNotFoundHandler((request, reply) => {
    void reply.status(404).send({ code: 'DF_ERR_NOT_FOUND', message: `no route ${request.method} ${request.url.split('?')[0]}` });
  });

  // Harbor's Dragonfly provider checks this before it calls anything else.
  app.get('/healthy', async () => 'OK');
  app.get('/metrics', async (_request, reply) => reply.type(METRICS_CONTENT_TYPE).send(context.metrics.render()));

  // ajv turns `?page=Infinity` (or 1e400) into Infinity and then skips its range checks for it.
  app.addHook('preHandler', async (request) => {
    for (const [where, values] of [['querystring', request.query], ['params', request.params]] as const) {
      for (const [key, value] of Object.entries((values ?? {}) as Record<string, unknown>)) {
        if ([value].flat().some((item) => typeof item === 'number' && !Number.isFinite(item))) {
          throw new InvalidFieldError(`${where}.${key}`, `${where}.${key} must be a finite number`);
        }
      }
    }
  });
  installAuth(app, context);
  // Before the routes: the collector sees each route as it is added.
  installOpenApi(app);
  for (const plugin of options.routes ?? []) await plugin(app, context);
  return app;
}

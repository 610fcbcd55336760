/**
 * The OpenAPI 3.1 document of the API, generated from the routes' own zod schemas (the ones every
 * request is validated with) by zod's z.toJSONSchema.
 */
import { z } from 'zod';
import type { ApiRoute } from './route.ts';

type Json = Record<string, unknown>;

function schemaOf(s: z.ZodType, io: 'input' | 'output'): Json {
  const out = z.toJSONSchema(s, { io, unrepresentable: 'any', target: 'draft-2020-12' }) as Json;
  delete out.$schema;
  return out;
}

const errorSchema: Json = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message', 'hint'],
      properties: {
        code: {
          type: 'string',
          description: 'stable machine-readable code: invalid, not_found, unauthorized, forbidden, …',
        },
        message: { type: 'string', description: 'what is wrong; for a bad body it starts with the field' },
        hint: { type: ['string', 'null'], description: 'how to fix it' },
        field: {
          type: 'string',
          description: 'for a bad request: the field at fault, e.g. body.schedule.expr',
        },
      },
    },
  },
};

function errorResponse(description: string): Json {
  return { description, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
}

function parameters(where: 'path' | 'query', s: z.ZodType | undefined): Json[] {
  if (!s) return [];
  const schema = schemaOf(s, 'input');
  const props = (schema.properties ?? {}) as Record<string, Json>;
  const required = new Set((schema.required ?? []) as string[]);
  return Object.entries(props).map(([name, p]) => ({
    name,
    in: where,
    required: where === 'path' || required.has(name),
    ...(typeof p.description === 'string' ? { description: p.description } : {}),
    schema: p,
  }));
}

export function openApiDocument(routes: ApiRoute[], version: string): Json {
  const paths: Record<string, Record<string, Json>> = {};
  for (const r of routes) {
    const path = r.url.replace(/:([A-Za-z_]+)/g, '{$1}');
    const op: Json = {
      summary: r.summary,
      ...(r.description ? { description: r.description } : {}),
      tags: [r.tag],
      operationId: `${r.method.toLowerCase()}${path.replace(/\{[^}]+\}/g, 'By').replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ?? '').toUpperCase())}`,
      'x-required-scope': r.scope,
      security: [{ bearer: [] }],
      parameters: [...parameters('path', r.params), ...parameters('query', r.query)],
      responses: {
        '200': {
          description: 'success',
          content: { 'application/json': { schema: r.response ? schemaOf(r.response, 'output') : {} } },
        },
        '400': errorResponse('invalid request: the message names the field'),
        '401': errorResponse('missing or unknown bearer token'),
        '403': errorResponse(`the token's scope is below "${r.scope}"`),
        '404': errorResponse('no such job, run, profile or session'),
      },
    };
    if (r.body) {
      op.requestBody = {
        required: true,
        content: { 'application/json': { schema: schemaOf(r.body, 'input') } },
      };
      (op.responses as Json)['413'] = errorResponse('body larger than 1 MiB');
    }
    (paths[path] ??= {})[r.method.toLowerCase()] = op;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'nightshift API',
      version,
      description:
        "Jobs, runs, backups, sessions and alerts of one nightshift daemon. Same shapes as the CLI's --json. " +
        'Scopes: read (inspect), operate (also run jobs), admin (also create, edit, enable, disable and delete jobs).',
    },
    servers: [{ url: '/' }],
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: { Error: errorSchema },
    },
    paths,
  };
}

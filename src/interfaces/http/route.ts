/**
 * One API endpoint described as data: method, path, the scope it needs, and zod schemas for its
 * path parameters, query and body. The server validates every request against these schemas and
 * the OpenAPI document is generated from the same ones, so the two cannot disagree.
 */
import type { z } from 'zod';
import type { Scope } from '../../domain/scope.ts';
import type { SseChannel } from './sse.ts';

export interface RouteContext<P, Q, B> {
  params: P;
  query: Q;
  body: B;
  /** The caller's scope (a route is only reached with at least its own). */
  scope: Scope;
  /** Aborted when the client goes away. */
  signal: AbortSignal;
}

/** A result other than 200 with the returned value as JSON. */
export class Reply {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {}
}
/**
 * A result sent as server-sent events instead of JSON: `start` gets the channel and returns what
 * to do when the stream closes (either side).
 */
export class EventStream {
  constructor(
    readonly comment: string,
    readonly start: (channel: SseChannel) => () => void,
  ) {}
}

export interface ApiRoute<
  P extends z.ZodType = z.ZodType,
  Q extends z.ZodType = z.ZodType,
  B extends z.ZodType = z.ZodType,
> {
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  /** Fastify syntax: `/api/v1/jobs/:job`. */
  url: string;
  scope: Scope;
  /** For the OpenAPI document: one line, then details. */
  summary: string;
  description?: string;
  tag: string;
  params?: P;
  query?: Q;
  body?: B;
  /** The 200 response's shape, for the document (responses are built by the views, not parsed). */
  response?: z.ZodType;
  handler(ctx: RouteContext<z.output<P>, z.output<Q>, z.output<B>>): Promise<unknown>;
}

/** Keeps the schemas' types attached to the handler's context. */
export function route<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType>(
  r: ApiRoute<P, Q, B>,
): ApiRoute {
  return r as unknown as ApiRoute;
}

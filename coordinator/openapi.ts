import { z } from 'zod'
import { errorBodySchema, type Role } from '../protocol/api.ts'
import { PRESSMESH_VERSION } from '../protocol/constants.ts'

// The OpenAPI 3.1 document of the coordinator API, generated from the same route table the
// server registers, with the zod schemas turned into JSON Schema.

export interface RouteDef {
  method: 'get' | 'post' | 'delete'
  /** Hono syntax: /api/v1/jobs/:id */
  path: string
  /** `public` routes need no token. */
  role: Role | 'public'
  summary: string
  body?: z.ZodType
  query?: z.ZodType
  responses: { status: number; schema?: z.ZodType; description: string }[]
}

const ERRORS: Record<number, string> = {
  400: 'malformed body, query or id',
  401: 'no token, or an unknown or revoked one',
  403: 'the token lacks the role',
  404: 'no such job, node or token',
  413: 'body too large',
}

export function openApiDocument(routes: RouteDef[]): object {
  const paths: Record<string, Record<string, object>> = {}

  for (const route of routes) {
    const path = route.path.replace(/:([A-Za-z]+)/g, '{$1}')
    const parameters: object[] = [...route.path.matchAll(/:([A-Za-z]+)/g)].map((m) => ({
      name: m[1],
      in: 'path',
      required: true,
      schema: { type: 'string' },
    }))

    if (route.query instanceof z.ZodObject) {
      const shape = route.query.shape as Record<string, z.ZodType>
      for (const [name, schema] of Object.entries(shape)) {
        parameters.push({
          name,
          in: 'query',
          required: false,
          schema: z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }),
        })
      }
    }

    const responses: Record<string, object> = {}
    for (const response of route.responses) {
      responses[String(response.status)] = {
        description: response.description,
        ...(response.schema
          ? { content: { 'application/json': { schema: jsonSchema(response.schema, 'output') } } }
          : path.endsWith('/events')
            ? { content: { 'text/event-stream': { schema: { type: 'string' } } } }
            : {}),
      }
    }
    for (const [status, description] of Object.entries(ERRORS)) {
      responses[status] = {
        description,
        content: { 'application/json': { schema: jsonSchema(errorBodySchema, 'output') } },
      }
    }

    paths[path] ??= {}
    paths[path][route.method] = {
      summary: route.summary,
      'x-required-role': route.role,
      security: route.role === 'public' ? [] : [{ bearer: [] }],
      parameters,
      ...(route.body
        ? {
            requestBody: {
              required: true,
              content: { 'application/json': { schema: jsonSchema(route.body, 'input') } },
            },
          }
        : {}),
      responses,
    }
  }

  paths['/api/v1/openapi.json'] = {
    get: {
      summary: 'This document',
      security: [],
      responses: { 200: { description: 'OpenAPI 3.1' } },
    },
  }

  return {
    openapi: '3.1.0',
    info: { title: 'Pressmesh coordinator', version: PRESSMESH_VERSION },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    paths,
  }
}

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): object {
  return z.toJSONSchema(schema, { io, unrepresentable: 'any' })
}

/**
 * Message analytics: /v1/namespaces/{ns}/analytics/messages (scope analytics:read) and, for
 * instance admins, /v1/analytics/messages across namespaces; each also as CSV.
 */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi'
import { analyticsCsv } from '../../domain/analytics/csv'
import { ADMIN_GROUP_BYS, type AnalyticsReport, type AnalyticsScope, GROUP_BYS, INTERVALS, messageAnalytics } from '../../domain/analytics/query'
import { COUNTED_STATUSES } from '../../domain/analytics/rollups'
import type { Deps } from '../../domain/deps'
import type { AppEnv } from '../env'
import { scoped } from '../middleware/auth'
import { bodyProblems, commonProblems, json, nsParams } from '../schemas'
import { requireInstanceAdmin } from './namespaces-admin'

const time = (description: string) => z.iso.datetime({ offset: true }).optional().openapi({ description, example: '2026-11-24T00:00:00Z' })
const querySchema = z.strictObject({
  from: time('Start of the range (rounded down to a bucket); default: 24 hours before `to`'),
  to: time('End of the range, exclusive (rounded up to a bucket); default: now'),
  interval: z.enum(INTERVALS).default('hour'),
  tz: z.string().min(1).max(64).optional().openapi({ description: 'IANA time zone of the buckets (default UTC)', example: 'Europe/Paris' }),
  group_by: z.enum(GROUP_BYS).optional(),
  channel: z.string().min(1).max(100).optional().openapi({ description: 'Only this channel (name or id)' }),
})
const adminQuerySchema = querySchema.extend({
  group_by: z.enum(ADMIN_GROUP_BYS).optional(),
  channel: z.string().min(1).max(100).optional().openapi({ description: 'Only this channel (id)' }),
  namespace: z.string().min(1).max(100).optional().openapi({ description: 'Only this namespace (slug or id)' }),
})

const counts = z.object(Object.fromEntries(COUNTED_STATUSES.map((s) => [s, z.number().int().optional()]))).openapi({ example: { queued: 120, sent: 118, delivered: 110, failed: 2 } })
const percentiles = z.object({ count: z.number().int(), p50: z.number().nullable(), p95: z.number().nullable(), p99: z.number().nullable() })
const reportSchema = z
  .object({
    interval: z.enum(INTERVALS),
    from: z.string().openapi({ example: '2026-11-24T00:00:00Z' }),
    to: z.string(),
    tz: z.string(),
    group_by: z.string().nullable(),
    resolution: z.enum(['minute', 'hour']).openapi({ description: 'Which rollups answered' }),
    approximate: z.boolean().openapi({ description: "True when hour rollups stood in for a zone's half-hour offset (ranges over 48 h)" }),
    totals: counts,
    buckets: z.array(z.object({ start: z.string(), group: z.string().nullable().optional(), counts })),
    delivery_rate: z.number().nullable().openapi({ description: 'delivered ÷ sent' }),
    failure_rate: z.number().nullable().openapi({ description: 'failed ÷ queued' }),
    latency_ms: z.object({ accept_to_sent: percentiles, sent_to_delivered: percentiles }),
    top_failures: z.array(z.object({ code: z.string(), count: z.number().int() })),
  })
  .openapi('MessageAnalytics')
const csv = { description: 'The buckets as CSV (RFC 4180, header row)', content: { 'text/csv': { schema: z.string() } } }
const problems = { ...commonProblems, 422: bodyProblems[422] }
const tags = ['analytics']
const summary = 'Message counts by status over time, rates, latency percentiles and top failures'

const routes = {
  json: createRoute({ method: 'get', path: '/messages', tags, ...scoped('analytics:read'), summary, request: { params: nsParams, query: querySchema }, responses: { 200: json(reportSchema, 'The report'), ...problems } }),
  csv: createRoute({ method: 'get', path: '/messages.csv', tags, ...scoped('analytics:read'), summary: 'The same as CSV', request: { params: nsParams, query: querySchema }, responses: { 200: csv, ...problems } }),
}
const adminRoutes = {
  json: createRoute({ method: 'get', path: '/messages', tags, middleware: [requireInstanceAdmin()], summary: `${summary}, across namespaces (instance admins)`, request: { query: adminQuerySchema }, responses: { 200: json(reportSchema, 'The report'), ...problems } }),
  csv: createRoute({ method: 'get', path: '/messages.csv', tags, middleware: [requireInstanceAdmin()], summary: 'The same as CSV (instance admins)', request: { query: adminQuerySchema }, responses: { 200: csv, ...problems } }),
}

function csvResponse(report: AnalyticsReport): Response {
  return new Response(analyticsCsv(report), {
    status: 200,
    headers: { 'content-type': 'text/csv; charset=utf-8; header=present', 'content-disposition': 'attachment; filename="omnigate-messages.csv"' },
  })
}

export function analyticsRoutes(deps: Deps) {
  const report = (namespaceId: string, query: z.infer<typeof querySchema>) => messageAnalytics(deps, { namespaceId }, query)
  return new OpenAPIHono<AppEnv>()
    .openapi(routes.json, async (c) => c.json((await report(c.get('namespaceId'), c.req.valid('query'))) as never, 200))
    .openapi(routes.csv, async (c) => csvResponse(await report(c.get('namespaceId'), c.req.valid('query'))) as never)
}

/** Instance-wide analytics: instance admins only (403 for everyone else). */
export function instanceAnalyticsRoutes(deps: Deps) {
  const all: AnalyticsScope = { namespaceId: null }
  return new OpenAPIHono<AppEnv>()
    .openapi(adminRoutes.json, async (c) => c.json((await messageAnalytics(deps, all, c.req.valid('query'))) as never, 200))
    .openapi(adminRoutes.csv, async (c) => csvResponse(await messageAnalytics(deps, all, c.req.valid('query'))) as never)
}

/**
 * The one drizzle schema for every driver. Times are integer milliseconds since the epoch;
 * ids are prefixed, time-ordered UUIDv7 strings (see `newId`), so ordering by id is ordering
 * by creation time.
 */
export * from './schema/core'
export * from './schema/identity'
export * from './schema/inbound'
export * from './schema/operations'
export * from './schema/webhooks'

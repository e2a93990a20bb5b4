/**
 * `ingest-batch`: POST /messages/batch with 100 messages per request (one Idempotency-Key per
 * request), engine off; the same acknowledged-vs-stored count check as `ingest`.
 */
import { type IngestSummary, ingestScenario } from './ingest'
import type { BenchOptions } from './lib'

export const BATCH_SIZE = 100

export function ingestBatch(bench: BenchOptions): Promise<IngestSummary> {
  return ingestScenario(bench, { label: 'ingest-batch', perRequest: BATCH_SIZE, engine: false, runs: bench.runs })
}

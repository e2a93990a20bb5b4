/**
 * Public ids: a type prefix and a UUIDv7 without dashes. UUIDv7 is time-ordered, so ids sort by
 * creation time and inserts stay at the right edge of the primary-key index (DESIGN.md: 45k rows/s
 * with v4 keys against 226k+ with v7).
 */
export type IdPrefix = 'ns' | 'app' | 'key' | 'ch' | 'term' | 'msg' | 'evt' | 'pst' | 'wh' | 'whd' | 'wha' | 'usr' | 'inv' | 'ses' | 'pwr' | 'cli' | 'kid' | 'aud' | 'prv' | 'ver'

export function newId(prefix: IdPrefix): string {
  return `${prefix}_${Bun.randomUUIDv7().replaceAll('-', '')}`
}

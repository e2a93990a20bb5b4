/**
 * `isIP` as node:net has it, without loading node:net: importing node:net pulls in Node's
 * stream machinery, ~20% of the binary's start-up (docs/performance.md).
 */
import ipaddr from 'ipaddr.js'

/** 4 or 6 when `s` is an IPv4 (dotted quad) or IPv6 literal, else 0. */
export function isIP(s: string): 0 | 4 | 6 {
  if (ipaddr.IPv4.isValidFourPartDecimal(s)) return 4
  if (s.includes(':') && ipaddr.IPv6.isValid(s)) return 6
  return 0
}

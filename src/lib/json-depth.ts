/**
 * How deep a parsed JSON value nests, counted without recursion, so that a hostile body (a few
 * hundred KB of `[[[[…`) is refused with a 422 rather than overflowing the stack of whatever
 * walks it next (JSON.stringify, a hash of the request).
 */
export function nestedDeeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 1]]
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!
    if (node === null || typeof node !== 'object') continue
    if (depth > max) return true
    for (const child of Array.isArray(node) ? node : Object.values(node)) {
      if (child !== null && typeof child === 'object') stack.push([child, depth + 1])
    }
  }
  return false
}

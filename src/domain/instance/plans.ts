/** The plans of `[[plans]]` as operators see them: quotas, the signup default, how many namespaces use each. */
import { count } from 'drizzle-orm'
import { namespaces } from '../../store/schema'
import type { Deps } from '../deps'

/** Every plan in config order (0 = unlimited, as in the config). */
export async function listPlans(deps: Pick<Deps, 'store' | 'config'>) {
  const used = await deps.store.read.select({ plan: namespaces.plan, n: count() }).from(namespaces).groupBy(namespaces.plan)
  const counts = new Map(used.map((u) => [u.plan, u.n]))
  return deps.config.plans.map((plan) => ({
    name: plan.name,
    messages_per_day: plan.messages_per_day,
    messages_per_month: plan.messages_per_month,
    requests_per_second: plan.requests_per_second,
    default: plan.name === deps.config.signup.default_plan,
    namespaces: counts.get(plan.name) ?? 0,
  }))
}

/**
 * Plans: named sets of quotas declared in `[[plans]]` (built in: `free`, `pro`). Provisioning
 * writes a plan's quotas into `namespaces.settings.quotas`, where the limits code reads them.
 */
import type { Config } from '../../config'
import type { QuotaSettings } from '../identity/quotas'
import { invalidField } from '../errors'

export type Plan = Config['plans'][number]

/** The plan called `name`, or a 422 naming `field` and listing the known plans. */
export function findPlan(config: Pick<Config, 'plans'>, name: string, field = 'plan'): Plan {
  const plan = config.plans.find((p) => p.name === name)
  if (!plan) throw invalidField(field, `unknown plan "${name}" (known: ${config.plans.map((p) => p.name).join(', ')})`)
  return plan
}

/** What a plan puts in `settings.quotas` (0 = unlimited, as everywhere in quotas). */
export function planQuotas(plan: Plan): Required<QuotaSettings> {
  return {
    messages_per_day: plan.messages_per_day,
    messages_per_month: plan.messages_per_month,
    requests_per_second: plan.requests_per_second,
  }
}

// The plan form's text fields as plan input: amounts typed as decimals ("2.50") become cents, and
// a meter's price bands are typed as "10 @ 3.00, 50 @ 2.50, * @ 2.00" (units up to 10 at 3.00,
// up to 50 at 2.50, the rest at 2.00) or a single price ("2.00"). Wrong text is a field error.
import { ValidationError } from '../errors.ts';
import type { IPricePlan, PriceTier } from './entities.ts';
import { centsDecimal } from './money.ts';
import { type PlanInput, planFieldErrors } from './plans.ts';

export const PLAN_FORM_METERS = 3;

/** "2.50" → 250; null when it is not an amount with at most two decimals. */
export function parseAmount(text: string): number | null {
  const m = /^\s*(\d{1,9})(?:[.,](\d{1,2}))?\s*$/.exec(text);
  if (!m) return null;
  return Number(m[1]) * 100 + Number((m[2] ?? '').padEnd(2, '0'));
}

export function parseBands(text: string): PriceTier[] | null {
  const parts = text
    .split(/[,;\n]/)
    .map((p) => p.trim())
    .filter(Boolean);
  if (parts.length === 0) return null;
  const tiers: PriceTier[] = [];
  for (const [i, part] of parts.entries()) {
    const m = /^(\*|\d{1,9})\s*@\s*(.+)$/.exec(part);
    const last = i === parts.length - 1;
    const price = parseAmount(m ? (m[2] as string) : part);
    if (price === null) return null;
    if (!m) {
      if (!last) return null;
      tiers.push({ upTo: null, unitCents: price });
      continue;
    }
    tiers.push({ upTo: m[1] === '*' ? null : Number(m[1]), unitCents: price });
  }
  return tiers;
}

export function bandsText(tiers: readonly PriceTier[]): string {
  if (tiers.length === 1 && tiers[0]?.upTo === null) return centsDecimal(tiers[0].unitCents);
  return tiers.map((t) => `${t.upTo ?? '*'} @ ${centsDecimal(t.unitCents)}`).join(', ');
}

/** The form's values of a saved plan. */
export function planFormValues(plan: IPricePlan): Record<string, string> {
  const values: Record<string, string> = {
    name: plan.name,
    currency: plan.currency,
    period: plan.period,
    minimum: centsDecimal(plan.minimumCents),
  };
  plan.meters.forEach((m, i) => {
    values[`meter${i}`] = m.meter;
    values[`measure${i}`] = m.measure;
    values[`bands${i}`] = bandsText(m.tiers);
  });
  return values;
}

export function planInputOf(form: Record<string, string | undefined>): PlanInput {
  const errors: Record<string, string> = {};
  const minimum = form.minimum?.trim() ? parseAmount(form.minimum) : 0;
  if (minimum === null) errors.minimum = 'An amount such as 25.00.';
  const meters: PlanInput['meters'] = [];
  for (let i = 0; i < PLAN_FORM_METERS; i++) {
    const meter = form[`meter${i}`]?.trim();
    if (!meter) continue;
    const tiers = parseBands(form[`bands${i}`] ?? '');
    if (!tiers) {
      errors[`bands${i}`] = 'A price such as 2.50, or bands such as "10 @ 3.00, * @ 2.50".';
      continue;
    }
    meters.push({ meter, measure: (form[`measure${i}`] ?? 'max') as 'max', tiers });
  }
  const input: PlanInput = {
    name: form.name ?? '',
    currency: form.currency ?? '',
    period: (form.period ?? '') as 'monthly',
    minimumCents: minimum ?? 0,
    meters,
  };
  // Every field's message at once: the typed text's and the plan's own rules'.
  if (Object.keys(errors).length) {
    const rules = planFieldErrors(input);
    // A meter left out for its typed bands is said on its bands, not as "no meter".
    if (meters.length === 0) delete rules.meters;
    throw new ValidationError({ ...rules, ...errors });
  }
  return input;
}

// Countries of an account's address as ISO 3166-1 alpha-2 codes, named by the runtime's own
// region names (Intl), so no list is kept here.
const names = new Intl.DisplayNames(['en'], { type: 'region', fallback: 'none' });

/** Every assigned two-letter region code the runtime names, by name. */
export const COUNTRIES: readonly { code: string; name: string }[] = (() => {
  const out: { code: string; name: string }[] = [];
  const letters = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
  for (const a of letters) {
    for (const b of letters) {
      const code = a + b;
      const name = names.of(code);
      // Unassigned codes come back unnamed; the user-assigned ones (ZZ, XA…) are not countries.
      if (name && name !== code && !/^(X[A-Z]|Q[M-Z]|ZZ|AA|EU|EZ|UN)$/.test(code)) out.push({ code, name });
    }
  }
  return out.sort((x, y) => x.name.localeCompare(y.name, 'en'));
})();

const BY_CODE = new Map(COUNTRIES.map((c) => [c.code, c.name]));

export function countryName(code: string | null | undefined): string | null {
  return code ? (BY_CODE.get(code) ?? null) : null;
}

export function isCountryCode(code: string): boolean {
  return BY_CODE.has(code);
}

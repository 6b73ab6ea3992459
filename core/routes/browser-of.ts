// A short browser name for the Security audit's sign-in entries (password and single sign-on).
export function browserOf(userAgent: string | undefined): string {
  if (!userAgent) return 'an unknown browser';
  const match = /(Edg|Firefox|Chrome|Safari|curl)\//.exec(userAgent);
  return match
    ? (({ Edg: 'Edge' } as Record<string, string>)[match[1] as string] ?? (match[1] as string))
    : 'a browser';
}

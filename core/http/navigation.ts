// The site map of a customer account, in the order of the product guides. A section that
// has no pages yet is shown greyed out and unlinked, so the layout is stable and nothing
// links to a missing page; the capability that adds its pages sets `available`.
export interface NavEntry {
  label: string;
  href: string;
  icon: string;
  available: boolean;
  current: boolean;
  unavailableReason?: string;
}

interface NavSection {
  label: string;
  href: string;
  icon: string;
  available: boolean;
}

const sections: readonly NavSection[] = [
  { label: 'Homepage', href: '/', icon: 'home', available: true },
  { label: 'Jobs', href: '/jobs', icon: 'jobs', available: false },
  { label: 'Recovery', href: '/recovery', icon: 'recovery', available: false },
  { label: 'Activity', href: '/activity', icon: 'activity', available: false },
  { label: 'Settings', href: '/settings', icon: 'settings', available: false },
];

export function navigationFor(path: string): NavEntry[] {
  return sections.map((s) => ({
    ...s,
    current: s.href === '/' ? path === '/' : path === s.href || path.startsWith(`${s.href}/`),
    ...(s.available ? {} : { unavailableReason: 'Not available yet on this appliance' }),
  }));
}

// The site map, in the order of the product guides, filtered by what the signed-in principal
// may open. A section that has no pages yet is shown greyed out and unlinked, so the layout is
// stable and nothing links to a missing page; the capability that adds its pages sets `available`.
import { hasPermission, type Principal } from '../access/principal.ts';
import type { IOrganization } from '../identity/entities.ts';
import type { Permission } from '../identity/permissions.ts';

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
  /** Shown only to principals with this permission. */
  permission?: Permission;
  /** Shown only to principals with at least one of these permissions. */
  anyPermission?: readonly Permission[];
  /** Shown only where the organization acted on can hold accounts (a portal). */
  portal?: boolean;
  /** Paths under another prefix that belong to this section. */
  alsoCurrentFor?: string[];
}

const sections: readonly NavSection[] = [
  { label: 'Accounts', href: '/portal', icon: 'accounts', available: true, portal: true, permission: 'view_dashboard' },
  // Every organization is invoiced by its parent (History, Unpaid bills); a customer's Billing opens at History.
  { label: 'Billing', href: '/billing', icon: 'billing', available: true, permission: 'view_dashboard' },
  { label: 'Homepage', href: '/', icon: 'home', available: true },
  {
    label: 'Jobs',
    href: '/jobs',
    icon: 'jobs',
    available: true,
    anyPermission: ['restore', 'export_download'],
  },
  {
    label: 'Recovery',
    href: '/recovery',
    icon: 'recovery',
    available: true,
    anyPermission: ['restore', 'export_download'],
  },
  {
    label: 'Activity',
    href: '/activity',
    icon: 'activity',
    available: true,
    anyPermission: ['view_activity', 'view_security_audit'],
  },
  { label: 'Settings', href: '/settings', icon: 'settings', available: true },
];

export function navigationFor(path: string, principal?: Principal, organization?: IOrganization): NavEntry[] {
  return sections
    .filter((s) => !s.permission || (principal && hasPermission(principal, s.permission)))
    .filter((s) => !s.anyPermission || (principal && s.anyPermission.some((p) => hasPermission(principal, p))))
    .filter((s) => !s.portal || (organization && organization.kind !== 'customer'))
    .map(({ permission: _p, anyPermission: _n, portal: _q, alsoCurrentFor: _a, ...s }) => ({
      ...s,
      current: s.href === '/' ? path === '/' : path === s.href || path.startsWith(`${s.href}/`),
      ...(s.available ? {} : { unavailableReason: 'Not available yet on this appliance' }),
    }));
}

export interface SettingsTab {
  label: string;
  href: string;
  current: boolean;
}

/** The Settings sub-navigation, filtered by permission. */
export function settingsTabsFor(path: string, principal: Principal, organization: IOrganization): SettingsTab[] {
  const tabs: { label: string; href: string; show: boolean }[] = [
    { label: 'Account', href: '/settings/account', show: true },
    // Only a person has a profile; an API key's session does not.
    { label: 'Profile', href: '/settings/profile', show: principal.kind === 'user' },
    { label: 'Users', href: '/settings/users', show: hasPermission(principal, 'manage_users') },
    { label: 'Security', href: '/settings/security', show: true },
    {
      label: 'IP restrictions',
      href: '/settings/ip-restrictions',
      show: hasPermission(principal, 'manage_security'),
    },
    { label: 'Storage', href: '/settings/storage', show: true },
    { label: 'Notifications', href: '/settings/notifications', show: hasPermission(principal, 'manage_notifications') },
    { label: 'API', href: '/settings/api', show: hasPermission(principal, 'manage_integrations') },
    { label: 'Webhooks', href: '/settings/webhooks', show: hasPermission(principal, 'manage_integrations') },
    { label: 'Integrations', href: '/settings/integrations', show: hasPermission(principal, 'manage_integrations') },
    {
      label: 'Outbox',
      href: '/settings/outbox',
      show: organization.kind === 'root' && principal.home.kind === 'root' && principal.isAdministrator,
    },
    {
      label: 'Recovery',
      href: '/settings/recovery',
      show:
        organization.kind === 'root' &&
        principal.home.kind === 'root' &&
        principal.isAdministrator &&
        principal.kind === 'user',
    },
  ];
  return tabs
    .filter((t) => t.show)
    .map((t) => ({ label: t.label, href: t.href, current: path === t.href || path.startsWith(`${t.href}/`) }));
}

/** The Activity tabs (System Activity, Security Audit), filtered by permission. */
export function activityTabsFor(path: string, principal: Principal): SettingsTab[] {
  const tabs = [
    { label: 'System activity', href: '/activity', show: hasPermission(principal, 'view_activity') },
    {
      label: 'Security audit',
      href: '/activity/security-audit',
      show: hasPermission(principal, 'view_security_audit'),
    },
  ];
  return tabs
    .filter((t) => t.show)
    .map((t) => ({
      label: t.label,
      href: t.href,
      current: t.href === '/activity' ? !path.startsWith('/activity/security-audit') : path.startsWith(t.href),
    }));
}

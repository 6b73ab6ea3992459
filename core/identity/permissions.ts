// The operations a Custom user can be granted. Administrators hold them all. Portal
// operations matter for users of a distributor or partner; account operations everywhere.
export const PERMISSIONS = [
  'view_dashboard',
  'add_accounts',
  'manage_backups',
  'restore',
  'export_download',
  'view_activity',
  'view_security_audit',
  'manage_users',
  'manage_security',
  'manage_integrations',
  'manage_notifications',
] as const;
export type Permission = (typeof PERMISSIONS)[number];

/**
 * What a new Custom user starts with, as an MSP expects of a backup operator: see the accounts,
 * run and change backups, restore, export and download, read the account activity. Not users,
 * security, integrations, new accounts or the security audit: those stay with administrators.
 */
export const BACKUP_OPERATOR_PERMISSIONS: readonly Permission[] = [
  'view_dashboard',
  'manage_backups',
  'restore',
  'export_download',
  'view_activity',
];

/**
 * Permissions of features that do not exist yet ("View billing messages"): offered nowhere and checked nowhere until their feature arrives. Users stored with
 * them keep them (`keepPlanned`), so nothing is lost when they return to `PERMISSIONS`.
 */
export const PLANNED_PERMISSIONS = ['view_billing_messages'] as const;

export const PERMISSION_LABELS: Record<Permission, { label: string; hint: string }> = {
  view_dashboard: { label: 'View dashboard', hint: 'See the accounts of the portal and their status.' },
  add_accounts: { label: 'Add accounts', hint: 'Create customer accounts (and partners) under this organization.' },
  manage_backups: { label: 'Manage backups', hint: 'Add, activate, pause and delete backup tasks.' },
  restore: { label: 'Restore', hint: 'Restore backed-up data to the service.' },
  export_download: { label: 'Export and download', hint: 'Export backed-up data and download the results.' },
  view_activity: { label: 'View account activity', hint: 'Open the System Activity page.' },
  view_security_audit: { label: 'View security audit', hint: 'Open and export the Security Audit page.' },
  manage_users: { label: 'Manage users', hint: 'Add, edit, deactivate and delete users.' },
  manage_security: {
    label: 'Manage security',
    hint: 'Two-factor enforcement, password expiry and IP restrictions of the organization.',
  },
  manage_integrations: { label: 'Manage integrations', hint: 'Create and delete API keys and webhooks.' },
  manage_notifications: {
    label: 'Manage notifications',
    hint: 'Choose who receives summary reports, exception, recovery, discovery and smart-alert mail.',
  },
};

export function isPermission(value: string): value is Permission {
  return (PERMISSIONS as readonly string[]).includes(value);
}

/** The offered permissions among those stored for a user (stored planned ones left out). */
export function heldPermissions(stored: readonly string[]): Permission[] {
  return stored.filter(isPermission);
}

/** `chosen` plus the planned permissions already stored, which no form can show or change. */
export function keepPlanned(chosen: readonly Permission[], stored: readonly string[]): Permission[] {
  return [...chosen, ...(stored.filter((p) => !isPermission(p)) as Permission[])];
}

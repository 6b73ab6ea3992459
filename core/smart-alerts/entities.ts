// Smart alert rules of a backup task: "more than N (or N %) records added / updated / deleted in
// one run, of one object or any object, by one user or by all users". Checked by the kernel after
// each backup run of a task whose plugin offers them (ServicePlugin.smartAlerts).
import { defineEntity, type InferEntity, p } from '@mikro-orm/core';
import { BackupTask } from '../tasks/entities.ts';

export const ALERT_CHANGES = ['added', 'updated', 'deleted'] as const;
export type AlertChange = (typeof ALERT_CHANGES)[number];
export const ALERT_UNITS = ['count', 'percent'] as const;
export type AlertUnit = (typeof ALERT_UNITS)[number];
export const ALERT_USERS = ['one', 'all'] as const;
export type AlertUsers = (typeof ALERT_USERS)[number];

export const SmartAlertRule = defineEntity({
  name: 'SmartAlertRule',
  tableName: 'smart_alert_rules',
  properties: {
    id: p.integer().primary().autoincrement(),
    task: () => p.manyToOne(BackupTask).index().deleteRule('cascade'),
    /** The object (entity external id) the rule watches; null: every object. */
    entityExternalId: p.string().length(500).nullable(),
    change: p.enum(ALERT_CHANGES),
    unit: p.enum(ALERT_UNITS),
    /** Fires when the run's changes are more than this (a count, or a percentage of the items before). */
    threshold: p.integer(),
    /** 'one': any single user's changes exceed it; 'all': everyone's together. Fixed at creation. */
    users: p.enum(ALERT_USERS),
    enabled: p.boolean().default(true),
    createdAt: p.datetime(),
  },
});
export type ISmartAlertRule = InferEntity<typeof SmartAlertRule>;

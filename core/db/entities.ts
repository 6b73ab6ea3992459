// Every ORM entity of the kernel. Plugins' entities are added through the plugin registry
// once plugins exist; the list is explicit so start-up does no folder scanning.
import { ApiKey, ApiToken, IpRule } from '../access/entities.ts';
import { ActivityEvent } from '../activity/entities.ts';
import { AuditEvent } from '../audit/entities.ts';
import { BillingAccount, Invoice, InvoiceLine, PricePlan } from '../billing/entities.ts';
import {
  CatalogItem,
  CatalogRepository,
  CatalogScope,
  CatalogSnapshot,
  CatalogSnapshotDamage,
  CatalogVersion,
} from '../catalog/entities.ts';
import { DrillPolicy, RestoreDrill } from '../drills/entities.ts';
import { LoginThrottle, OneTimeToken, Organization, RecoveryCode, Session, User } from '../identity/entities.ts';
import { ExternalIdentity, SsoDomain, SsoPendingSignIn, SsoProvider } from '../identity/sso/entities.ts';
import { SamlAssertionUse } from '../identity/sso/saml/saml-entities.ts';
import { Integration, IntegrationCompany, IntegrationTicket } from '../integrations/entities.ts';
import { Job } from '../jobs/entities.ts';
import { MailFile, MailMessage } from '../mail/entities.ts';
import { Notification, NotificationIncident, NotificationRecipient } from '../notifications/entities.ts';
import { SummaryReport, SummaryReportSettings } from '../notifications/summary-entities.ts';
import { ExportResult } from '../recovery/entities.ts';
import { SmartAlertRule } from '../smart-alerts/entities.ts';
import {
  OrganizationStorage,
  StorageLocation,
  StorageRepository,
  StorageVerification,
} from '../storage-locations/entities.ts';
import { ClusterLease, SystemFact } from '../system/entities.ts';
import { BackupTask, PluginRecoveryStep, TaskEntity } from '../tasks/entities.ts';
import { AccountHealth, SubtreeHealth } from '../tenancy/entities.ts';
import { UsageKindSample, UsageSample } from '../tenancy/usage-entities.ts';
import { WebhookDelivery, WebhookEndpoint, WebhookEvent } from '../webhooks/entities.ts';

export const kernelEntities = [
  Organization,
  User,
  Session,
  RecoveryCode,
  OneTimeToken,
  LoginThrottle,
  AuditEvent,
  MailMessage,
  MailFile,
  IpRule,
  ApiKey,
  ApiToken,
  SystemFact,
  ClusterLease,
  CatalogRepository,
  CatalogSnapshot,
  CatalogScope,
  CatalogItem,
  CatalogVersion,
  CatalogSnapshotDamage,
  BackupTask,
  TaskEntity,
  PluginRecoveryStep,
  Job,
  StorageLocation,
  OrganizationStorage,
  StorageRepository,
  StorageVerification,
  ActivityEvent,
  ExportResult,
  NotificationRecipient,
  Notification,
  NotificationIncident,
  WebhookEndpoint,
  WebhookEvent,
  WebhookDelivery,
  AccountHealth,
  SubtreeHealth,
  SummaryReportSettings,
  SummaryReport,
  SmartAlertRule,
  RestoreDrill,
  UsageSample,
  Integration,
  IntegrationCompany,
  IntegrationTicket,
  DrillPolicy,
  UsageKindSample,
  PricePlan,
  BillingAccount,
  Invoice,
  InvoiceLine,
  SsoProvider,
  ExternalIdentity,
  SsoPendingSignIn,
  SsoDomain,
  SamlAssertionUse,
];

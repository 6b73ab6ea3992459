// The PostgreSQL migrations, applied in this order. They are kept in step with the SQLite ones
// (../sqlite/index.ts): a change of the entities needs a migration in each folder, and
// tests/integration/migrations.test.ts fails for the driver whose migrations leave the schema
// short of the entities. `HOLDFAST_DATABASE_URL=postgres://… npm run holdfast -- migration create
// <name>` writes the PostgreSQL one.
import type { MigrationObject } from '@mikro-orm/core';
import { Migration20261207160000_postgresql_schema } from './Migration20261207160000_postgresql_schema.ts';
import { Migration20261207170000_billing_psa_sso } from './Migration20261207170000_billing_psa_sso.ts';
import { Migration20261207183620_billing_payment_details } from './Migration20261207183620_billing_payment_details.ts';
import { Migration20261207192705_search_document_cost } from './Migration20261207192705_search_document_cost.ts';
import { Migration20261207193547_psa_note_marker } from './Migration20261207193547_psa_note_marker.ts';
import { Migration20261207214631_subtree_health } from './Migration20261207214631_subtree_health.ts';
import { Migration20261207214739_stored_search_document } from './Migration20261207214739_stored_search_document.ts';
import { Migration20261207215001_cluster_leases } from './Migration20261207215001_cluster_leases.ts';
import { Migration20261208013000_integration_invoice_check } from './Migration20261208013000_integration_invoice_check.ts';

export const postgresqlMigrations: MigrationObject[] = [
  { name: 'Migration20261207160000_postgresql_schema', class: Migration20261207160000_postgresql_schema },
  { name: 'Migration20261207170000_billing_psa_sso', class: Migration20261207170000_billing_psa_sso },
  { name: 'Migration20261207183620_billing_payment_details', class: Migration20261207183620_billing_payment_details },
  { name: 'Migration20261207192705_search_document_cost', class: Migration20261207192705_search_document_cost },
  { name: 'Migration20261207193547_psa_note_marker', class: Migration20261207193547_psa_note_marker },
  { name: 'Migration20261207214631_subtree_health', class: Migration20261207214631_subtree_health },
  { name: 'Migration20261207214739_stored_search_document', class: Migration20261207214739_stored_search_document },
  { name: 'Migration20261207215001_cluster_leases', class: Migration20261207215001_cluster_leases },
  {
    name: 'Migration20261208013000_integration_invoice_check',
    class: Migration20261208013000_integration_invoice_check,
  },
];

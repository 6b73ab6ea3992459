import { Migration } from '@mikro-orm/migrations';

// SAML assertions already used to sign in, kept until they expire (core/identity/sso/saml/saml-replay.ts).
export class Migration20261207160000_saml_assertion_uses extends Migration {
  override name = 'Migration20261207160000_saml_assertion_uses';

  override up(): void | Promise<void> {
    this.addSql(
      `create table \`saml_assertion_uses\` (\`key\` text not null primary key, \`expires_at\` datetime not null);`,
    );
    this.addSql(`create index \`saml_assertion_uses_expires_at_index\` on \`saml_assertion_uses\` (\`expires_at\`);`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists \`saml_assertion_uses\`;`);
  }
}

// The PostgreSQL driver as the appliance uses it: MikroORM's, with one change. MikroORM writes
// values into the SQL text, and PostgreSQL cannot hold a NUL character in text at all (the
// statement is refused: a 500 for any search or form field that holds one). A NUL in a value
// becomes U+FFFD, the replacement character, so such input is stored and searched with that
// character in its place (docs/OPERATIONS.md lists it among the differences from SQLite).
import { PostgreSqlDriver, PostgreSqlPlatform } from '@mikro-orm/postgresql';

class NulSafePostgreSqlPlatform extends PostgreSqlPlatform {
  override escape(value: unknown): string {
    return super.escape(typeof value === 'string' ? value.replaceAll('\0', '\uFFFD') : value);
  }
}

export class HoldfastPostgreSqlDriver extends PostgreSqlDriver {
  constructor(config: ConstructorParameters<typeof PostgreSqlDriver>[0]) {
    super(config);
    // Connections get the driver's platform when they connect.
    (this as unknown as { platform: PostgreSqlPlatform }).platform = new NulSafePostgreSqlPlatform();
  }
}

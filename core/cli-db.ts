// `holdfast db …`: moving an appliance's database (docs/OPERATIONS.md, "Moving from SQLite to
// PostgreSQL").
//   db migrate-to-postgres --from <holdfast.sqlite> --to <postgres://…> [--force]
import { parseArgs } from 'node:util';
import { describeDatabase } from './db/database.ts';

export const DB_EXIT = { ok: 0, mismatch: 1, usage: 2, refused: 4 } as const;

export const dbUsage = `Usage: holdfast db <command>

Commands:
  migrate-to-postgres              Copy a stopped appliance's SQLite database into PostgreSQL:
      --from <holdfast.sqlite>     every table, parents first, in batches, in one transaction;
      --to <postgres://…>          the target gets this Holdfast's schema first. Prints each
      [--force]                    table's rows and checksum on both sides at the end.
                                   Refuses a target that already holds rows unless --force
                                   (which empties it first).

Exit codes: 0 copied and verified, 1 failed or a table's rows or checksum differ, 2 usage
error, 4 refused (source not at this Holdfast's schema, target not empty, cannot connect).`;

const out = (line: string) => process.stdout.write(`${line}\n`);

export async function runDbCommand(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: {
      from: { type: 'string' },
      to: { type: 'string' },
      force: { type: 'boolean', default: false },
      'batch-rows': { type: 'string' },
    },
  });
  if (command !== 'migrate-to-postgres') {
    process.stderr.write(`holdfast: unknown command "db ${argv.join(' ')}"\n\n${dbUsage}\n`);
    return DB_EXIT.usage;
  }
  const usage = (message: string) => {
    process.stderr.write(`holdfast: ${message}\n`);
    return DB_EXIT.usage;
  };
  if (!values.from) return usage('name the SQLite database with --from <holdfast.sqlite>');
  if (!values.to || !/^postgres(ql)?:\/\//.test(values.to))
    return usage('name the PostgreSQL database with --to postgres://user:password@host:port/database');
  const batchRows = values['batch-rows'] === undefined ? undefined : Number(values['batch-rows']);
  if (batchRows !== undefined && !(Number.isInteger(batchRows) && batchRows > 0))
    return usage('--batch-rows must be a whole number above 0');
  const { copySqliteToPostgres, CopyRefusedError } = await import('./db/copy-to-postgres.ts');
  const target = describeDatabase({ databasePath: '', databaseUrl: values.to });
  out(`Copying ${values.from} into ${target}.`);
  try {
    const report = await copySqliteToPostgres({
      from: values.from,
      to: values.to,
      force: values.force,
      batchRows,
      progress: out,
    });
    const width = Math.max(...report.tables.map((t) => t.table.length), 5);
    out('');
    out(
      `${'table'.padEnd(width)}  ${'rows'.padStart(10)}  ${'copied'.padStart(10)}  checksum                          check`,
    );
    for (const t of report.tables) {
      const ok = t.sourceRows === t.targetRows && t.sourceChecksum === t.targetChecksum;
      out(
        `${t.table.padEnd(width)}  ${String(t.sourceRows).padStart(10)}  ${String(t.targetRows).padStart(10)}  ${t.sourceChecksum}  ${ok ? 'ok' : `MISMATCH (target ${t.targetChecksum})`}`,
      );
    }
    const rows = report.tables.reduce((n, t) => n + t.sourceRows, 0);
    if (!report.verified) {
      process.stderr.write('holdfast: the copy differs from the source (see MISMATCH above)\n');
      return DB_EXIT.mismatch;
    }
    out('');
    out(
      `Copied and verified ${report.tables.length} tables, ${rows} rows. Set HOLDFAST_DATABASE_URL to the target and start the appliance.`,
    );
    return DB_EXIT.ok;
  } catch (err) {
    if (err instanceof CopyRefusedError) {
      process.stderr.write(`holdfast: ${err.message}\n`);
      return DB_EXIT.refused;
    }
    throw err;
  }
}

// The layering rules the folder READMEs state, read from the sources' import statements so they
// stay true: core names no plugin but in its one registry file; a plugin imports only the plugin
// contracts (core/plugins, not the registry), storage/ and its own folder; storage/ only the
// plugin contracts; config/ only what its README lists; domain folders no HTTP layer; jobs/
// nothing of tasks/ but its entities (the composition root registers the job kinds); and no
// module imports itself back through others.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');

interface Import {
  from: string;
  /** Project path of a relative import, or the package name. */
  to: string;
  /** `import type`, `export type … from`, or a type position's `import('…')`. */
  typeOnly: boolean;
  /** `import('…')` at run time (loaded when reached, so it closes no cycle at start). */
  dynamic: boolean;
}

function* sources(dir: string): Generator<string> {
  for (const name of readdirSync(join(root, dir)).sort()) {
    const path = join(dir, name);
    if (name === 'node_modules' || name.startsWith('.')) continue;
    if (statSync(join(root, path)).isDirectory()) yield* sources(path);
    else if (name.endsWith('.ts')) yield path;
  }
}

const STATEMENT = /(?:^|\n)[ \t]*(?:import|export)[ \t]+(type[ \t]+)?(?:[^'";]*?[ \t\n]from[ \t]+)?['"]([^'"]+)['"]/g;
const DYNAMIC = /(await[ \t]+)?import\([ \t]*['"]([^'"]+)['"][ \t]*\)/g;

function importsOf(file: string): Import[] {
  const text = readFileSync(join(root, file), 'utf8');
  const target = (spec: string) => (spec.startsWith('.') ? relative(root, resolve(root, dirname(file), spec)) : spec);
  const found: Import[] = [];
  for (const m of text.matchAll(STATEMENT)) {
    found.push({ from: file, to: target(m[2] as string), typeOnly: Boolean(m[1]), dynamic: false });
  }
  for (const m of text.matchAll(DYNAMIC)) {
    // `import('./x.ts').T` in a type is erased; an awaited or called import() loads the module.
    const after = text.slice((m.index ?? 0) + m[0].length, (m.index ?? 0) + m[0].length + 1);
    const typeOnly = !m[1] && after === '.';
    found.push({ from: file, to: target(m[2] as string), typeOnly, dynamic: !typeOnly });
  }
  return found;
}

const all = ['core', 'plugins', 'storage', 'config'].flatMap((dir) => [...sources(dir)].flatMap(importsOf));
const under = (path: string, folder: string) => path.startsWith(`${folder}/`);
/** A file of the project (a relative import), not a package. */
const inProject = (i: Import) => /^(core|plugins|storage|config|views|tests|bench|demo)\//.test(i.to);
const show = (imports: Import[]) => imports.map((i) => `${i.from} → ${i.to}${i.typeOnly ? ' (type)' : ''}`);

describe('layering', () => {
  it('reads the imports it checks (the registry names the built-in plugins)', () => {
    expect(all).toContainEqual({
      from: 'core/plugins/registry.ts',
      to: 'plugins/sinks/s3/index.ts',
      typeOnly: false,
      dynamic: false,
    });
    expect(all).toContainEqual({ from: 'core/cli.ts', to: 'core/plugins/registry.ts', typeOnly: false, dynamic: true });
    expect(all).toContainEqual({
      from: 'core/plugins/sink.ts',
      to: 'core/plugins/sink-support/retry.ts',
      typeOnly: true,
      dynamic: false,
    });
  });

  it('core names no specific plugin except in core/plugins/registry.ts', () => {
    const bad = all.filter(
      (i) => under(i.from, 'core') && under(i.to, 'plugins') && i.from !== 'core/plugins/registry.ts',
    );
    expect(show(bad)).toEqual([]);
  });

  it('a plugin imports only the plugin contracts, storage/ and its own folder', () => {
    const bad = all.filter((i) => {
      if (!under(i.from, 'plugins') || !inProject(i)) return false;
      const own = i.from.split('/').slice(0, 3).join('/');
      const contract = under(i.to, 'core/plugins') && i.to !== 'core/plugins/registry.ts';
      return !(under(i.to, own) || contract || under(i.to, 'storage'));
    });
    expect(show(bad)).toEqual([]);
  });

  it('storage/ imports only the plugin contracts', () => {
    const bad = all.filter(
      (i) =>
        under(i.from, 'storage') &&
        inProject(i) &&
        !under(i.to, 'storage') &&
        !(under(i.to, 'core/plugins') && i.to !== 'core/plugins/registry.ts'),
    );
    expect(show(bad)).toEqual([]);
  });

  it('config/ imports from core only the entity list, migrations, the IP parser, text folding and plugin contract types', () => {
    const allowed = (i: Import) =>
      i.to === 'core/db/entities.ts' ||
      under(i.to, 'core/db/migrations') ||
      i.to === 'core/access/ip-match.ts' ||
      // The SQLite driver registers the catalog's text folding as an SQL function.
      (i.from === 'config/sqlite-driver.ts' && i.to === 'core/db/fold.ts') ||
      (i.typeOnly && i.to === 'core/plugins/service.ts') ||
      // A script run by `npm run config:docs`: it lists the built-in plugins' settings.
      (i.from === 'config/write-reference.ts' && i.to === 'core/plugins/registry.ts');
    const bad = all.filter((i) => under(i.from, 'config') && under(i.to, 'core') && !allowed(i));
    expect(show(bad)).toEqual([]);
  });

  it('domain folders know no HTTP: no routes, API or request plumbing, no Hono', () => {
    const domain = [
      'access',
      'activity',
      'audit',
      'catalog',
      'db',
      'identity',
      'jobs',
      'mail',
      'notifications',
      'plugins',
      'recovery',
      'scheduler',
      'secrets',
      'storage-locations',
      'system',
      'tasks',
      'tenancy',
    ].map((d) => `core/${d}`);
    const http = (to: string) =>
      ['core/http', 'core/routes', 'core/api'].some((f) => under(to, f)) ||
      to === 'hono' ||
      to.startsWith('hono/') ||
      to.startsWith('@hono/');
    const bad = all.filter((i) => domain.some((d) => under(i.from, d)) && http(i.to));
    expect(show(bad)).toEqual([]);
  });

  it('jobs/ uses nothing of tasks/ but its entities and types, and nothing of recovery/', () => {
    const bad = all.filter(
      (i) =>
        under(i.from, 'core/jobs') &&
        ((under(i.to, 'core/tasks') && !i.typeOnly && i.to !== 'core/tasks/entities.ts') ||
          (under(i.to, 'core/recovery') && !i.typeOnly)),
    );
    expect(show(bad)).toEqual([]);
  });

  it('no module imports itself back through others (static value imports)', () => {
    const graph = new Map<string, string[]>();
    for (const i of all) {
      if (i.typeOnly || i.dynamic || !i.to.endsWith('.ts')) continue;
      graph.set(i.from, [...(graph.get(i.from) ?? []), i.to]);
    }
    const state = new Map<string, 'open' | 'done'>();
    const cycles: string[] = [];
    const visit = (file: string, path: string[]) => {
      if (state.get(file) === 'done') return;
      if (state.get(file) === 'open') {
        cycles.push([...path.slice(path.indexOf(file)), file].join(' → '));
        return;
      }
      state.set(file, 'open');
      for (const next of graph.get(file) ?? []) visit(next, [...path, file]);
      state.set(file, 'done');
    };
    for (const file of graph.keys()) visit(file, []);
    expect(cycles).toEqual([]);
  });
});

// docker/compose.scale.yml, checked without a Docker engine: its services are the scale-out
// stack (PostgreSQL, MinIO, 2 web nodes, 2 workers, Caddy), every node's environment is a valid
// Holdfast configuration in multi-node mode naming only settings that exist, long-running
// services have health checks, dependencies name real services, and the proxy trusts and reaches
// exactly what the nodes expect.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig, unknownEnvNames } from '../../../config/load.ts';
import { normalizeEntry } from '../../../core/access/ip-match.ts';
import { multiNodeMode } from '../../../core/system/node-role.ts';

const docker = (name: string) => readFileSync(new URL(`../../../docker/${name}`, import.meta.url), 'utf8');

interface Service {
  image?: string;
  environment?: Record<string, string>;
  healthcheck?: { test?: string[] };
  depends_on?: Record<string, { condition: string }>;
  restart?: string;
  networks?: string[] | Record<string, { ipv4_address?: string }>;
  volumes?: string[];
}
const compose = parse(docker('compose.scale.yml'), { merge: true }) as {
  services: Record<string, Service>;
  networks: { holdfast: { ipam: { config: { subnet: string }[] } } };
};
const services = compose.services;
const NODES = ['web-1', 'web-2', 'worker-1', 'worker-2'];

/** What Compose makes of ${VAR}, ${VAR:-default} and ${VAR:?message}, with docker/.env holding `env`. */
function interpolate(value: string, env: Record<string, string>): string {
  return value.replace(/\$\{([A-Z0-9_]+)(?::([-?])([^}]*))?\}/g, (_, name: string, op?: string, arg?: string) => {
    const set = env[name];
    if (set) return set;
    if (op === '-') return arg ?? '';
    throw new Error(`${name} is required: ${arg}`);
  });
}

const DOT_ENV = {
  HOLDFAST_MASTER_KEY: Buffer.alloc(32, 7).toString('base64'),
  POSTGRES_PASSWORD: 'pg-secret',
  MINIO_ROOT_PASSWORD: 'minio-secret',
};

function nodeEnv(name: string, env: Record<string, string> = DOT_ENV): Record<string, string> {
  const raw = services[name]?.environment ?? {};
  return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, interpolate(String(v), env)]));
}

describe('docker/compose.scale.yml', () => {
  it('runs PostgreSQL, MinIO, 2 web nodes and 2 workers behind a reverse proxy', () => {
    expect(Object.keys(services).sort()).toEqual(
      ['minio', 'minio-setup', 'postgres', 'proxy', 'web-1', 'web-2', 'worker-1', 'worker-2'].sort(),
    );
    expect(services.postgres?.image).toMatch(/^postgres:\d+/);
    expect(services.proxy?.image).toMatch(/^caddy:/);
    for (const node of NODES) expect(services[node]?.image).toBe('holdfast:local');
  });

  it('gives every node a valid configuration in multi-node mode, with its role, one database and one key', () => {
    const urls = new Set<string>();
    const keys = new Set<string>();
    for (const node of NODES) {
      const env = nodeEnv(node);
      expect([node, unknownEnvNames(env)]).toEqual([node, []]);
      const config = loadConfig({ env });
      expect(config.nodeRole).toBe(node.startsWith('web') ? 'web' : 'worker');
      expect(multiNodeMode(config)).toBe(true);
      urls.add(config.databaseUrl as string);
      keys.add(config.masterKey as string);
      // Backups go to the MinIO of the stack: local disk is refused in multi-node mode.
      expect(env.HOLDFAST_DEFAULT_STORAGE_ENDPOINT).toBe('http://minio:9000');
    }
    expect(urls).toEqual(new Set(['postgres://holdfast:pg-secret@postgres:5432/holdfast']));
    expect(keys).toEqual(new Set([DOT_ENV.HOLDFAST_MASTER_KEY]));
    // The database the nodes name is the one the PostgreSQL service creates.
    const pg = nodeEnv('postgres');
    expect([pg.POSTGRES_USER, pg.POSTGRES_PASSWORD, pg.POSTGRES_DB]).toEqual(['holdfast', 'pg-secret', 'holdfast']);
  });

  it('refuses to start without the shared master key and the passwords', () => {
    expect(() => nodeEnv('web-1', { ...DOT_ENV, HOLDFAST_MASTER_KEY: '' })).toThrow(/HOLDFAST_MASTER_KEY is required/);
    expect(() => nodeEnv('worker-1', { ...DOT_ENV, POSTGRES_PASSWORD: '' })).toThrow(/POSTGRES_PASSWORD is required/);
  });

  it('checks the health of every long-running service, and its dependencies are services of the stack', () => {
    for (const [name, service] of Object.entries(services)) {
      if (service.restart === 'no') continue; // the one-shot bucket setup
      expect([name, service.healthcheck?.test?.length ?? 0]).not.toEqual([name, 0]);
      for (const [dependency, { condition }] of Object.entries(service.depends_on ?? {})) {
        expect(Object.keys(services)).toContain(dependency);
        const target = services[dependency] as Service;
        expect(condition).toBe(target.restart === 'no' ? 'service_completed_successfully' : 'service_healthy');
      }
    }
    // The nodes' check asks a path every node answers, web or worker.
    const health = readFileSync(new URL('../../../core/routes/health.ts', import.meta.url), 'utf8');
    for (const node of NODES) {
      const check = (services[node]?.healthcheck?.test ?? []).join(' ');
      const path = /127\.0\.0\.1:8080(\/[a-z]+)/.exec(check)?.[1];
      expect(health).toContain(`app.get('${path}'`);
    }
  });

  it('sends requests to the web nodes only, from the one address the nodes trust', () => {
    const caddy = docker('Caddyfile.scale');
    const upstreams = /reverse_proxy ([^{]+)\{/.exec(caddy)?.[1]?.trim().split(/\s+/);
    expect(upstreams).toEqual(['web-1:8080', 'web-2:8080']);
    expect(/health_uri (\S+)/.exec(caddy)?.[1]).toBe('/readyz');
    expect(services.proxy?.volumes).toContain('./Caddyfile.scale:/etc/caddy/Caddyfile:ro');

    const networks = services.proxy?.networks as Record<string, { ipv4_address: string }> | undefined;
    const address = networks?.holdfast?.ipv4_address as string;
    const subnet = normalizeEntry(compose.networks.holdfast.ipam.config[0]?.subnet as string).span;
    const proxy = normalizeEntry(address).span;
    expect(proxy.from >= subnet.from && proxy.to <= subnet.to).toBe(true);
    for (const node of NODES) expect(loadConfig({ env: nodeEnv(node) }).trustedProxies).toEqual([address]);
  });
});

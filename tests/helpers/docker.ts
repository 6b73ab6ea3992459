// Whether a Docker engine answers here (DOCKER_HOST, else /var/run/docker.sock), and if not, why:
// tests that need one (MinIO via testcontainers) say so instead of skipping silently.
import { existsSync } from 'node:fs';
import { request } from 'node:http';

export interface DockerStatus {
  reachable: boolean;
  reason: string;
}

export function dockerStatus(timeoutMs = 2000): Promise<DockerStatus> {
  const host = process.env.DOCKER_HOST;
  let target: { socketPath: string } | { host: string; port: number };
  let where: string;
  if (host?.startsWith('tcp://')) {
    const url = new URL(host.replace('tcp://', 'http://'));
    target = { host: url.hostname, port: Number(url.port || 2375) };
    where = host;
  } else {
    const socketPath = host?.startsWith('unix://') ? host.slice('unix://'.length) : '/var/run/docker.sock';
    if (!existsSync(socketPath)) return Promise.resolve({ reachable: false, reason: `${socketPath} does not exist` });
    target = { socketPath };
    where = socketPath;
  }
  return new Promise((resolve) => {
    const req = request({ ...target, path: '/_ping', method: 'GET', timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(
        res.statusCode === 200
          ? { reachable: true, reason: `the Docker engine at ${where} answers` }
          : { reachable: false, reason: `the Docker engine at ${where} answered HTTP ${res.statusCode}` },
      );
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (err) => resolve({ reachable: false, reason: `${where}: ${(err as Error).message}` }));
    req.end();
  });
}

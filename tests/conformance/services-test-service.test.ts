// The service conformance suite on the test service (tests/fakes/test-service.ts) in files mode.
import testServicePlugin, {
  fileReads,
  holds,
  restoredRuns,
  revokedAccounts,
  sourceFiles,
  VALID_TOKEN,
} from '../fakes/test-service.ts';
import { createJobsHarness } from '../helpers/jobs.ts';
import { runServiceConformance } from './service-conformance.ts';

const ACCOUNT = 'conformance';
const ENTITY = 'user-001';

runServiceConformance('test-service', async () => {
  const h = await createJobsHarness();
  const files = new Map<string, string>();
  sourceFiles.set(ACCOUNT, new Map([[ENTITY, files]]));
  const name = (path: string) => path.replace(/^\//, '');
  return {
    h,
    plugin: testServicePlugin as never,
    connection: async () => ({ account: ACCOUNT, token: VALID_TOKEN, entities: 1, files: true }),
    entityName: `${ENTITY}@${ACCOUNT}.example`,
    putFile: (path, content) => void files.set(name(path), content),
    removeFile: (path) => void files.delete(name(path)),
    files: async () => new Map([...files].map(([n, content]) => [`/${n}`, content])),
    restoredFiles: async (folderName) => {
      const run = (restoredRuns.get(ACCOUNT) ?? []).findLast((r) => r.folderName === folderName);
      return new Map((run?.written ?? []).map((w) => [String(w.path), w.content]));
    },
    reads: (path) => fileReads.get(`${ACCOUNT}/${ENTITY}/${name(path)}`) ?? 0,
    revoke: () => void revokedAccounts.add(ACCOUNT),
    hold: () => {
      let reached = () => {};
      let release = () => {};
      const hold = {
        reached: () => reached(),
        released: new Promise<void>((resolve) => {
          release = resolve;
        }),
      };
      holds.set(ACCOUNT, hold);
      return {
        reached: new Promise<void>((resolve) => {
          reached = resolve;
        }),
        release: () => {
          holds.delete(ACCOUNT);
          release();
        },
      };
    },
    close: async () => {
      sourceFiles.delete(ACCOUNT);
      revokedAccounts.delete(ACCOUNT);
      await h.close();
    },
  };
});

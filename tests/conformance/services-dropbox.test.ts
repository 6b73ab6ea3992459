// The service conformance suite on the Dropbox plugin, against the Dropbox stand-in
// (tests/fakes/dropbox): the entity is a team member; the restore goes into a "Restored …" folder
// of the member's own Dropbox.
import { servicePlugin } from '../../core/plugins/registry.ts';
import { dropboxFolderName } from '../../plugins/services/dropbox/restore.ts';
import { Namespace } from '../fakes/dropbox/model.ts';
import { createDropboxHarness, tree } from '../helpers/dropbox.ts';
import { runServiceConformance } from './service-conformance.ts';

const EMAIL = 'conformance@acme.example';

/** Files only: tree() marks folders with "/". */
function filesOf(entries: Map<string, string>, skip = ''): Map<string, string> {
  return new Map([...entries].filter(([path, content]) => content !== '/' && !(skip && path.startsWith(skip))));
}

runServiceConformance('dropbox', async () => {
  const d = await createDropboxHarness();
  const ns = d.fake.team.addMember({ email: EMAIL }).namespace;
  return {
    h: d.h,
    plugin: servicePlugin('dropbox') as never,
    connection: async () => ({
      refreshToken: d.fake.grant().refreshToken,
      teamId: d.fake.team.id,
      teamName: d.fake.team.name,
    }),
    entityName: EMAIL,
    putFile: (path, content) => void ns.writeFile(path, Buffer.from(content), { mode: 'overwrite' }),
    removeFile: (path) => void ns.remove(path),
    files: async () => filesOf(tree(ns), '/Restored '),
    restoredFiles: async (folderName) => filesOf(tree(ns, `/${dropboxFolderName(folderName)}`)),
    reads: (path) => d.fake.downloads.get(`${ns.id}:${Namespace.lower(path)}`) ?? 0,
    revoke: () => d.fake.oauth.revokeAll(),
    hold: () => d.fake.holdDownloads(),
    close: () => d.close(),
  };
});

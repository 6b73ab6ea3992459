// Dropbox backup benchmark: one member with BENCH_DROPBOX_FILES (default 10,000) files in 100
// folders on the loopback stand-in, backed up as kernel backup jobs (connect, list, download,
// chunk, upload to the local repository, commit, index); then 1% of the files changed and backed
// up again. Prints each run's whole job time, the downloads the stand-in counted, and the ratio
// (the goal: the incremental run downloads only the changed files, in < 15% of the first's time).
import { backup, createDropboxHarness, discover, dropboxTask } from '../tests/helpers/dropbox.ts';

const FILES = Number(process.env.BENCH_DROPBOX_FILES ?? 10_000);
const BYTES = Number(process.env.BENCH_DROPBOX_FILE_BYTES ?? 4096);

function content(i: number, version: number): Buffer {
  const text = `file ${i} version ${version} `;
  return Buffer.from(text.repeat(Math.ceil(BYTES / text.length)).slice(0, BYTES));
}

export async function benchDropbox(): Promise<void> {
  console.log(`\nDropbox backup — ${FILES} files of ${BYTES} bytes on the stand-in, then 1% changed`);
  const d = await createDropboxHarness();
  try {
    const member = d.fake.team.addMember({ email: 'bench@acme.example' });
    for (let i = 0; i < FILES; i++) member.namespace.writeFile(`/Folder ${i % 100}/file-${i}.txt`, content(i, 0));
    const task = await dropboxTask(d);
    await discover(d, task.id);

    d.fake.resetCounters();
    let started = performance.now();
    const [first] = await backup(d, task.id, ['bench@acme.example']);
    const firstSeconds = (performance.now() - started) / 1000;
    const firstDownloads = d.fake.downloadCount();

    const changed = Math.max(1, Math.round(FILES / 100));
    for (let n = 0; n < changed; n++) {
      const i = (n * 97) % FILES;
      member.namespace.writeFile(`/Folder ${i % 100}/file-${i}.txt`, content(i, 1), { mode: 'overwrite' });
    }
    d.fake.resetCounters();
    started = performance.now();
    const [second] = await backup(d, task.id, ['bench@acme.example']);
    const secondSeconds = (performance.now() - started) / 1000;
    const secondDownloads = d.fake.downloadCount();

    console.log(
      `first run         ${firstSeconds.toFixed(2)} s  ${first?.state}  ${firstDownloads} downloads  ${(FILES / firstSeconds).toFixed(0)} files/s`,
    );
    console.log(
      `incremental run   ${secondSeconds.toFixed(2)} s  ${second?.state}  ${secondDownloads} downloads (${changed} changed)  = ${((secondSeconds / firstSeconds) * 100).toFixed(1)}% of the first run's time`,
    );
    console.log(
      `downloads         ${secondDownloads === changed ? 'only the changed files' : `MISMATCH: ${secondDownloads} for ${changed} changed`}`,
    );
  } finally {
    await d.close();
  }
}

if (import.meta.main) await benchDropbox();

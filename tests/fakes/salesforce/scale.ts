// A large generated org for the efficiency test and bench/salesforce.ts: N custom objects of M
// records each (text, number, date, boolean and picklist fields) and a few files; and a change of
// a share of its rows (updates, inserts, recycle-bin deletes, hard deletes, one new file version).
import type { Org } from './model.ts';

const WORDS =
  'account renewal contract pricing discount shipment invoice quarterly forecast pipeline escalation support onboarding migration integration warehouse region partner customer premium standard enterprise review approval signature delivery schedule payment overdue balance credit order product service license subscription trial upgrade'.split(
    ' ',
  );

export interface ScaleOrgOptions {
  objects: number;
  recordsPerObject: number;
  files?: number;
}

export function scaleObjectName(i: number): string {
  return `Scale${String(i + 1).padStart(3, '0')}__c`;
}

/** Defines the objects and inserts their records (and the files). Returns the object names. */
export function seedScaleOrg(org: Org, options: ScaleOrgOptions): string[] {
  const names: string[] = [];
  for (let i = 0; i < options.objects; i++) {
    const name = scaleObjectName(i);
    names.push(name);
    org.defineObject(name, [
      { name: 'Amount__c', type: 'currency', custom: true },
      { name: 'Quantity__c', type: 'double', custom: true },
      { name: 'Status__c', type: 'picklist', custom: true },
      { name: 'Due__c', type: 'date', custom: true },
      { name: 'Active__c', type: 'boolean', custom: true },
      { name: 'Notes__c', type: 'textarea', custom: true },
      { name: 'Email__c', type: 'email', custom: true },
      { name: 'Phone__c', type: 'phone', custom: true },
      { name: 'External_Id__c', type: 'string', custom: true },
      { name: 'Score__c', type: 'int', custom: true },
      { name: 'Website__c', type: 'url', custom: true },
      { name: 'Owner__c', type: 'reference', referenceTo: ['User'], custom: true },
    ]);
    for (let r = 0; r < options.recordsPerObject; r++) {
      // Values that vary from row to row as real data does (a repeated text would compress to nothing).
      const w = (k: number) => WORDS[(r * 31 + k * 17 + i * 7) % WORDS.length] as string;
      org.insert(name, {
        Name: `${w(1)} ${w(2)} ${r}`,
        Amount__c: (r * 37) % 100_000,
        Quantity__c: r % 17,
        Status__c: ['Open', 'Working', 'Closed'][r % 3] as string,
        Due__c: `2027-0${(r % 9) + 1}-1${r % 10}`,
        Active__c: r % 2 === 0,
        Notes__c: Array.from({ length: 24 }, (_, k) => w(k + 3)).join(' '),
        Email__c: `${w(4)}.${r}@${w(5)}.example.com`,
        Phone__c: `+1 555 ${String((r * 7919) % 10_000).padStart(4, '0')} ${String(i).padStart(3, '0')}`,
        External_Id__c: `EXT-${i}-${((r + 1) * 2_654_435_761) % 4_294_967_296}`,
        Score__c: (r * 13) % 101,
        Website__c: `https://www.${w(6)}-${w(7)}.example.com/${r}`,
        Owner__c: org.adminId,
      });
    }
  }
  for (let f = 0; f < (options.files ?? 0); f++) {
    org.addFile(`Scale file ${f}`, `file ${f}\n${'scale payload line\n'.repeat(200)}`, 'txt');
  }
  return names;
}

export interface ScaleChange {
  /** Rows the change touched per object (queryAll returns all but the hard-deleted ones). */
  changedRows: Map<string, number>;
  updated: number;
  inserted: number;
  deleted: number;
  purged: number;
  newFileVersions: number;
}

/** Changes `share` of every object's rows (at least one each), and adds a version to the first file. */
export function changeScaleOrg(org: Org, names: string[], share: number): ScaleChange {
  const change: ScaleChange = {
    changedRows: new Map(),
    updated: 0,
    inserted: 0,
    deleted: 0,
    purged: 0,
    newFileVersions: 0,
  };
  names.forEach((name, i) => {
    const ids = org.liveIds(name);
    const total = Math.max(1, Math.round(ids.length * share));
    let rows = 0;
    // The first change of each object is in turn an insert, a recycle-bin delete, a hard delete
    // (queryAll no longer returns it) or an update; the rest are updates.
    const first = i % 4;
    if (first === 0) {
      org.insert(name, { Name: 'Added row', Amount__c: 1 });
      change.inserted++;
      rows++;
    } else if (first === 1) {
      org.delete(name, ids[ids.length - 1] as string);
      change.deleted++;
      rows++;
    } else if (first === 2) {
      org.purge(name, ids[ids.length - 1] as string);
      change.purged++;
    }
    for (let k = first === 3 ? 0 : 1; k < total; k++) {
      org.update(name, ids[k * 7] as string, { Status__c: 'Escalated', Quantity__c: k });
      change.updated++;
      rows++;
    }
    change.changedRows.set(name, rows);
  });
  const documentId = org.liveIds('ContentDocument')[0];
  if (documentId) {
    org.addFileVersion(documentId, 'file 0, second version\n');
    change.newFileVersions++;
  }
  return change;
}

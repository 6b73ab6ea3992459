// The demo team: members with a few folders of everyday files (some with names that trip up
// lesser tools: accents, emoji, names differing only in case (in two folders: Dropbox folders
// ignore case), an empty folder, a 0-byte file), a
// suspended member, and two team folders. Deterministic, so every demo looks the same.
import type { FakeDropbox } from '../tests/fakes/dropbox/index.ts';

function text(lines: number, seed: string): Buffer {
  const out: string[] = [];
  for (let i = 0; i < lines; i++) out.push(`${seed} — line ${i + 1}: quarterly figures, notes and follow-ups.`);
  return Buffer.from(`${out.join('\n')}\n`);
}

/** Seeds the stand-in's team; returns how many files it holds. */
export function seedDemoTeam(dropbox: FakeDropbox): number {
  const team = dropbox.team;
  let files = 0;
  const write = (ns: { writeFile(path: string, content: Buffer): unknown }, path: string, content: Buffer) => {
    ns.writeFile(path, content);
    files++;
  };
  const admin = team.addMember({
    email: 'ada.admin@northwind.example',
    givenName: 'Ada',
    surname: 'Admin',
    role: 'team_admin',
  });
  write(admin.namespace, '/Contracts/Supplier agreement 2026.txt', text(40, 'Supplier agreement'));
  write(admin.namespace, '/Contracts/Überweisung März.txt', text(12, 'Überweisung'));
  write(admin.namespace, '/Notes/README.txt', text(3, 'Readme'));
  write(admin.namespace, '/Archive/readme.TXT', text(4, 'Another readme'));
  write(admin.namespace, '/Notes/empty.txt', Buffer.alloc(0));
  admin.namespace.mkdir('/Empty folder');

  const bo = team.addMember({ email: 'bo.chen@northwind.example', givenName: 'Bo', surname: 'Chen' });
  for (let month = 1; month <= 12; month++) {
    write(
      bo.namespace,
      `/Reports/2026/${String(month).padStart(2, '0')} Monthly report.txt`,
      text(60 + month, `Report ${month}`),
    );
  }
  write(bo.namespace, '/Photos/🎉 launch party.txt', text(5, 'Launch party'));

  const cy = team.addMember({ email: 'cy.dumont@northwind.example', givenName: 'Cy', surname: 'Dumont' });
  write(cy.namespace, '/Design/Logo brief.txt', text(20, 'Logo brief'));
  team.addMember({
    email: 'former.employee@northwind.example',
    givenName: 'Former',
    surname: 'Employee',
    status: 'suspended',
  });

  const finance = team.addTeamFolder('Finance');
  write(finance.namespace, '/Budgets/Budget 2026.txt', text(80, 'Budget'));
  write(finance.namespace, '/Invoices/INV-0001.txt', text(10, 'Invoice 1'));
  write(finance.namespace, '/Invoices/INV-0002.txt', text(10, 'Invoice 2'));
  const marketing = team.addTeamFolder('Marketing');
  write(marketing.namespace, '/Campaigns/Spring campaign plan.txt', text(30, 'Spring campaign'));
  return files;
}

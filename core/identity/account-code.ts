// The short human Partner/Account ID of seeds 000 and 001 ("Partner ID DDEV002"): the kind's
// letter and 7 characters of an alphabet without look-alikes, read over the phone and typed into
// support tickets. Given to every organization when it is created (32^7 codes per kind; the
// unique index refuses the unlikely clash); the migration gave existing ones a code of the same length.
import { randomInt } from 'node:crypto';

const ALPHABET = '23456789ABCDEFGHJKLMNPQRSTUVWXYZ';
const PREFIX: Record<string, string> = { root: 'R', distributor: 'D', partner: 'P', customer: 'C' };

export function randomAccountCode(kind: string): string {
  let code = PREFIX[kind] ?? 'X';
  for (let i = 0; i < 7; i++) code += ALPHABET[randomInt(ALPHABET.length)];
  return code;
}

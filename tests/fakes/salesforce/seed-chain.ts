// A chain of custom objects hanging under Account, one level per object (Level1__c looks up
// Account, Level2__c looks up Level1__c, …): the deepest hierarchy a replicate takes (seed 6.3,
// 7 levels) and one level more, to show where the walk stops.
import type { Org } from './model.ts';

/** The chain object at a level (1-based). */
export function chainObjectName(level: number): string {
  return `Level${level}__c`;
}

/** Defines `levels` chained objects under Account (Account must exist). */
export function defineChainObjects(org: Org, levels: number): void {
  for (let level = 1; level <= levels; level++) {
    const parent = level === 1 ? 'Account' : chainObjectName(level - 1);
    org.defineObject(
      chainObjectName(level),
      [
        {
          name: 'Parent__c',
          type: 'reference',
          referenceTo: [parent],
          relationshipName: 'Parent__r',
          custom: true,
        },
      ],
      { label: `Level ${level}` },
    );
  }
}

/** One account with one record per chain level below it; ids from the account down. */
export function seedChain(org: Org, levels: number, name = 'Chain Co'): string[] {
  const ids = [org.insert('Account', { Name: name })];
  for (let level = 1; level <= levels; level++) {
    ids.push(
      org.insert(chainObjectName(level), { Name: `${name} level ${level}`, Parent__c: ids[level - 1] as string }),
    );
  }
  return ids;
}

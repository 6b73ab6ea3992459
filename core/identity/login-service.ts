// Password login. An unknown email costs the same time as a wrong password, so a caller
// cannot probe which accounts exist.
import type { EntityManager } from '@mikro-orm/core';
import { type IUser, User } from './entities.ts';
import { decoyHash, verifyPassword } from './password.ts';

export async function authenticate(em: EntityManager, email: string, password: string): Promise<IUser | null> {
  const user = await em.findOne(User, { email: email.trim().toLowerCase() }, { populate: ['organization'] });
  const ok = await verifyPassword(password, user?.passwordHash ?? (await decoyHash()));
  if (!user || !ok) return null;
  user.lastLoginAt = new Date();
  await em.flush();
  return user;
}

// Every ORM entity of the kernel. Plugins' entities are added through the plugin registry
// once plugins exist; the list is explicit so start-up does no folder scanning.
import { CatalogItem, CatalogRepository, CatalogScope, CatalogSnapshot, CatalogVersion } from '../catalog/entities.ts';
import { Organization, Session, User } from '../identity/entities.ts';
import { SystemFact } from '../system/entities.ts';

export const kernelEntities = [
  Organization,
  User,
  Session,
  SystemFact,
  CatalogRepository,
  CatalogSnapshot,
  CatalogScope,
  CatalogItem,
  CatalogVersion,
];

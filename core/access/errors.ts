// Refusals of the access layer, mapped to HTTP by the error handler.
import { AppError } from '../errors.ts';
import { PERMISSION_LABELS, type Permission } from '../identity/permissions.ts';

export class ForbiddenError extends AppError {
  constructor(message: string) {
    super('forbidden', message, 403);
    this.name = 'ForbiddenError';
  }
}

export class MissingPermissionError extends ForbiddenError {
  readonly permission: Permission;
  constructor(permission: Permission) {
    super(`You need the "${PERMISSION_LABELS[permission].label}" permission for this. Ask an administrator.`);
    this.permission = permission;
  }
}

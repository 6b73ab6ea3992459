// How the stand-in renders its nodes and team objects as Dropbox API v2 JSON.
import type { FileNode, Member, Namespace, Node, TeamFolder } from './model.ts';

export function metadataJson(node: Node, ns: Namespace, sharedNamespace: boolean): Record<string, unknown> {
  if (node.tag === 'folder') {
    return {
      '.tag': 'folder',
      name: node.name,
      path_lower: node.pathLower,
      path_display: node.pathDisplay,
      id: node.id,
      ...(sharedNamespace ? { sharing_info: { read_only: false, parent_shared_folder_id: ns.id } } : {}),
    };
  }
  return fileJson(node, ns, sharedNamespace);
}

function fileJson(node: FileNode, ns: Namespace, sharedNamespace: boolean): Record<string, unknown> {
  return {
    '.tag': 'file',
    name: node.name,
    path_lower: node.pathLower,
    path_display: node.pathDisplay,
    id: node.id,
    client_modified: node.clientModified,
    server_modified: node.serverModified,
    rev: node.rev,
    size: node.content.byteLength,
    is_downloadable: true,
    content_hash: node.contentHash,
    ...(sharedNamespace
      ? {
          sharing_info: {
            read_only: false,
            parent_shared_folder_id: ns.id,
            ...(node.modifiedBy ? { modified_by: node.modifiedBy } : {}),
          },
        }
      : {}),
  };
}

export function deletedJson(pathLower: string, display: string): Record<string, unknown> {
  return {
    '.tag': 'deleted',
    name: display.slice(display.lastIndexOf('/') + 1),
    path_lower: pathLower,
    path_display: display,
  };
}

export function memberProfileJson(m: Member): Record<string, unknown> {
  const display = [m.givenName, m.surname].filter(Boolean).join(' ');
  return {
    team_member_id: m.teamMemberId,
    account_id: m.accountId,
    email: m.email,
    email_verified: true,
    status: { '.tag': m.status },
    name: {
      given_name: m.givenName,
      surname: m.surname,
      familiar_name: m.givenName,
      display_name: display,
      abbreviated_name: display
        .split(' ')
        .map((w) => w.slice(0, 1))
        .join(''),
    },
    membership_type: { '.tag': 'full' },
    groups: [],
    member_folder_id: m.namespace.id,
    root_folder_id: m.namespace.id,
  };
}

export function teamFolderJson(f: TeamFolder): Record<string, unknown> {
  return {
    team_folder_id: f.id,
    name: f.name,
    status: { '.tag': f.status },
    is_team_shared_dropbox: false,
    sync_setting: { '.tag': 'default' },
    content_sync_settings: [],
  };
}

/** JSON safe to put in an HTTP header: everything past ASCII as \u escapes (as Dropbox sends it). */
export function headerSafeJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[\u007f-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

import { errorCode } from '@dirstream/errors';
import type { ServerOffers } from '../core/delta-choice.ts';
import type { DirectoryConnection } from './client.ts';
import { stringValues } from './entry.ts';
import { SYNC_REQUEST_OID } from './syncrepl.ts';

/**
 * What differential mechanisms the server offers, read with the profile's own bind: the rootDSE's
 * supportedControl (the Sync Request control means syncprov) and whether `cn=accesslog` exists
 * and is readable (slapo-accesslog). Two small reads; a lost connection still fails the run.
 */
export async function probeServer(connection: DirectoryConnection): Promise<ServerOffers> {
  const root = await connection.searchAll({ baseDn: '', scope: 'base', filter: '(objectClass=*)', attributes: ['supportedControl'] });
  const controls = root[0] === undefined ? [] : stringValues(root[0], 'supportedControl');
  let accesslog = false;
  try {
    const entries = await connection.searchAll({ baseDn: 'cn=accesslog', scope: 'base', filter: '(objectClass=*)', attributes: ['1.1'] });
    accesslog = entries.length === 1;
  } catch (cause) {
    // No such object, or no read access for this bind DN: not usable either way.
    if (errorCode(cause) === 'LDAP_CONNECTION_FAILED') throw cause;
  }
  return { accesslog, syncrepl: controls.includes(SYNC_REQUEST_OID) };
}

/** Writes the OpenLDAP container's LDIF (same config and sample as the local provider). */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_SAMPLE, writeSampleLdif } from '../sample/generate.ts';
import { baseLdif, configLdif, slapdInstance } from '../local/openldap.ts';
import { STATE_DIR } from '../local/paths.ts';

export const CONTAINER_LDIF_DIR = join(STATE_DIR, 'containers', 'ldif');
export const containerSlapd = slapdInstance({ dir: '/var/lib/dirstream-ldap', port: 38389 });

export async function prepareLdif(): Promise<string> {
  mkdirSync(CONTAINER_LDIF_DIR, { recursive: true });
  writeFileSync(join(CONTAINER_LDIF_DIR, 'config.ldif'), configLdif(containerSlapd));
  writeFileSync(
    join(CONTAINER_LDIF_DIR, 'base.ldif'),
    `${baseLdif(containerSlapd)}dn: ou=sample,${containerSlapd.suffix}\nobjectClass: top\nobjectClass: organizationalUnit\nou: sample\n\n`,
  );
  await writeSampleLdif(join(CONTAINER_LDIF_DIR, 'sample.ldif'), { ...DEFAULT_SAMPLE, baseDn: `ou=sample,${containerSlapd.suffix}` });
  return CONTAINER_LDIF_DIR;
}

if (import.meta.main) console.log(await prepareLdif());

/**
 * OpenSSH known_hosts checking for the SFTP backend: a host key is accepted only when the file
 * lists it for that host. A host listed with other keys is refused as changed (a possible
 * man-in-the-middle), like `StrictHostKeyChecking yes`. Plain, `[host]:port`, wildcard and
 * hashed (`|1|salt|hash`) entries are understood; `@revoked` keys are refused.
 */
import { createHash, createHmac } from 'node:crypto';

export type HostKeyVerdict = 'match' | 'changed' | 'unknown' | 'revoked';

/** The name known_hosts uses for a host: `host` on port 22, else `[host]:port`. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

function wildcard(pattern: string, name: string): boolean {
  const re = new RegExp(
    '^' +
      pattern
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*/g, '.*')
        .replace(/\?/g, '.') +
      '$',
    'i',
  );
  return re.test(name);
}

function hostMatches(field: string, name: string): boolean {
  if (field.startsWith('|1|')) {
    const [, , salt, hash] = field.split('|');
    if (!salt || !hash) return false;
    const mac = createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64');
    return mac === hash;
  }
  let hit = false;
  for (const p of field.split(',')) {
    if (p.startsWith('!')) {
      if (wildcard(p.slice(1), name)) return false;
    } else if (wildcard(p, name)) hit = true;
  }
  return hit;
}

/** Judges the raw host key blob a server presented against the text of a known_hosts file. */
export function checkHostKey(knownHosts: string, host: string, port: number, key: Buffer): HostKeyVerdict {
  const name = knownHostsName(host, port);
  const presented = key.toString('base64');
  let listed = false;
  let matched = false;
  for (const raw of knownHosts.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const fields = line.split(/\s+/);
    let marker: string | undefined;
    if (fields[0]!.startsWith('@')) marker = fields.shift();
    if (marker === '@cert-authority' || fields.length < 3) continue;
    const [hosts, , b64] = fields as [string, string, string];
    if (!hostMatches(hosts, name)) continue;
    if (marker === '@revoked') {
      if (b64 === presented) return 'revoked';
      continue;
    }
    listed = true;
    if (b64 === presented) matched = true;
  }
  if (matched) return 'match';
  return listed ? 'changed' : 'unknown';
}

/** The SHA256 fingerprint OpenSSH shows for a key blob (`SHA256:...`). */
export function fingerprint(key: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(key).digest('base64').replace(/=+$/, '');
}
